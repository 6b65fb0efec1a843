import { TxkitError } from './txkit-error.js'

/**
 * A lock was used in a way its state does not allow: released while not held, or acquired while an
 * acquire is still waiting. A programming error.
 */
export class LockStateError extends TxkitError {
  override readonly code = 'TXKIT_LOCK_STATE'
  readonly isLockStateError = true
}

/**
 * True when `e` is a {@link LockStateError}.
 *
 * @example
 * ```ts
 * await createLock(pool, 'job').release().catch((e) => isLockStateError(e)) // true: never acquired
 * ```
 */
export function isLockStateError(e: unknown): e is LockStateError {
  return e instanceof Error && (e as Partial<LockStateError>).isLockStateError === true
}
