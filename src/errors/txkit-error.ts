/**
 * Base class of every error txkit throws. `code` is stable across versions: match on it (or on the
 * `isXxxError` guards) rather than on messages, which may be reworded.
 */
export abstract class TxkitError extends Error {
  abstract readonly code: string
  readonly isTxkitError = true

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/**
 * True for any error thrown by txkit, even one from another copy of the package in `node_modules`.
 *
 * @example
 * ```ts
 * try { await coordinator.transaction(dbs, work) } catch (e) { if (isTxkitError(e)) log(e.code) }
 * ```
 */
export function isTxkitError(e: unknown): e is TxkitError {
  return e instanceof Error && (e as Partial<TxkitError>).isTxkitError === true
}
