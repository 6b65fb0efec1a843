import { TxkitError } from './txkit-error.js'

/**
 * An operation inside a transaction failed in a way that undid the whole transaction (a MySQL/MariaDB
 * deadlock rolls it all back; a lost connection takes it along): retrying the operation alone would
 * silently drop the earlier work, and committing would write only part of it. Roll back and rerun the
 * whole transaction: `manager.retry` and `manager.attempts` do. `cause` is the database's error.
 */
export class RetryTransactionError extends TxkitError {
  override readonly code = 'TXKIT_RETRY_TRANSACTION'
  readonly isRetryTransactionError = true
}

/**
 * True when `e` is a {@link RetryTransactionError}.
 *
 * @example
 * ```ts
 * await manager.retry(async (tx) => runner.run(await tx.join('ledger', ledger), post)) // reruns on it
 * ```
 */
export function isRetryTransactionError(e: unknown): e is RetryTransactionError {
  return (
    e instanceof Error && (e as Partial<RetryTransactionError>).isRetryTransactionError === true
  )
}
