import { TxkitError } from './txkit-error.js'

/**
 * The runner stopped because its AbortSignal fired: before an attempt or during a backoff. `cause`
 * is the signal's reason; `lastError` the error of the last attempt, if one failed.
 */
export class RunAbortedError extends TxkitError {
  override readonly code = 'TXKIT_RUN_ABORTED'
  readonly isRunAbortedError = true

  /** The error of the last attempt, when one failed before the abort. */
  readonly lastError: unknown

  constructor(message: string, reason: unknown, lastError: unknown) {
    super(message, { cause: reason })
    this.lastError = lastError
  }
}

/**
 * True when `e` is a {@link RunAbortedError}.
 *
 * @example
 * ```ts
 * await runner.run(pool, work, { signal: AbortSignal.timeout(5_000) }).catch((e) => isRunAbortedError(e))
 * ```
 */
export function isRunAbortedError(e: unknown): e is RunAbortedError {
  return e instanceof Error && (e as Partial<RunAbortedError>).isRunAbortedError === true
}
