import { TxkitError } from './txkit-error.js'

/**
 * The session holding a lock ended (connection closed, backend terminated, server restarted): the
 * server released the lock, and another holder may have it now. Work done after this point was not
 * protected by the lock.
 */
export class LockLostError extends TxkitError {
  override readonly code = 'TXKIT_LOCK_LOST'
  readonly isLockLostError = true

  /** The key as the caller gave it. */
  readonly key: string

  constructor(message: string, key: string, options?: { cause?: unknown }) {
    super(message, options)
    this.key = key
  }
}

/**
 * True when `e` is a {@link LockLostError}.
 *
 * @example
 * ```ts
 * await withLock(pool, 'job', async (lock) => { await work(lock.signal) }).catch((e) => isLockLostError(e))
 * ```
 */
export function isLockLostError(e: unknown): e is LockLostError {
  return e instanceof Error && (e as Partial<LockLostError>).isLockLostError === true
}
