import { TxkitError } from './txkit-error.js'

/**
 * An acquire gave up because its AbortSignal fired. The waiting statement was cancelled on the server,
 * nothing is held, and the connection is usable. `cause` is the signal's reason.
 */
export class LockWaitAbortedError extends TxkitError {
  override readonly code = 'TXKIT_LOCK_WAIT_ABORTED'
  readonly isLockWaitAbortedError = true

  /** The key as the caller gave it. */
  readonly key: string

  constructor(message: string, key: string, options?: { cause?: unknown }) {
    super(message, options)
    this.key = key
  }
}

/**
 * True when `e` is a {@link LockWaitAbortedError}.
 *
 * @example
 * ```ts
 * const controller = new AbortController(); setTimeout(() => controller.abort(), 100)
 * await lock.acquire({ signal: controller.signal }).catch((e) => isLockWaitAbortedError(e)) // true
 * ```
 */
export function isLockWaitAbortedError(e: unknown): e is LockWaitAbortedError {
  return e instanceof Error && (e as Partial<LockWaitAbortedError>).isLockWaitAbortedError === true
}
