import { TxkitError } from './txkit-error.js'

/**
 * A second acquire of a lock this holder already has: the same lock object, the same key inside a
 * `withLock` for it, or the same key twice in one transaction. txkit never stacks locks (PostgreSQL
 * and MySQL would on one session, Oracle would not), and refusing beats waiting on oneself forever.
 */
export class LockReentryError extends TxkitError {
  override readonly code = 'TXKIT_LOCK_REENTRY'
  readonly isLockReentryError = true

  /** The key as the caller gave it. */
  readonly key: string

  constructor(message: string, key: string, options?: { cause?: unknown }) {
    super(message, options)
    this.key = key
  }
}

/**
 * True when `e` is a {@link LockReentryError}.
 *
 * @example
 * ```ts
 * await withLock(pool, 'job', () => withLock(pool, 'job', work)).catch((e) => isLockReentryError(e)) // true
 * ```
 */
export function isLockReentryError(e: unknown): e is LockReentryError {
  return e instanceof Error && (e as Partial<LockReentryError>).isLockReentryError === true
}
