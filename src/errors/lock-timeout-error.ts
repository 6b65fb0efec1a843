import { TxkitError } from './txkit-error.js'

/**
 * The lock was not granted within the time asked for: another session holds it (or a conflicting mode).
 * Nothing is held. `key` and `waitedMs` say which lock and how long the server waited.
 */
export class LockTimeoutError extends TxkitError {
  override readonly code = 'TXKIT_LOCK_TIMEOUT'
  readonly isLockTimeoutError = true

  /** The key as the caller gave it. */
  readonly key: string
  /** How long the server was asked to wait, in milliseconds. */
  readonly waitedMs: number

  constructor(message: string, key: string, waitedMs: number) {
    super(message)
    this.key = key
    this.waitedMs = waitedMs
  }
}

/**
 * True when `e` is a {@link LockTimeoutError}.
 *
 * @example
 * ```ts
 * await createLock(pool, 'billing').acquire({ timeout: 250 }).catch((e) => isLockTimeoutError(e)) // true while another holder has it
 * ```
 */
export function isLockTimeoutError(e: unknown): e is LockTimeoutError {
  return e instanceof Error && (e as Partial<LockTimeoutError>).isLockTimeoutError === true
}
