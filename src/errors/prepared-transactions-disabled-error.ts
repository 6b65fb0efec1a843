import { ConfigurationError } from './configuration-error.js'

/**
 * The database refuses two-phase commit: PostgreSQL with `max_prepared_transactions = 0` (its
 * default), or a MySQL account without the XA privileges.
 */
export class PreparedTransactionsDisabledError extends ConfigurationError {
  override readonly code = 'TXKIT_PREPARED_TRANSACTIONS_DISABLED'
  readonly isPreparedTransactionsDisabledError = true
  readonly database: string

  constructor(database: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.database = database
  }
}

/**
 * True when `e` is a {@link PreparedTransactionsDisabledError}.
 *
 * @example
 * ```ts
 * if (isTransactionRolledBackError(e) && isPreparedTransactionsDisabledError(e.cause)) alertOps(e.cause.message)
 * ```
 */
export function isPreparedTransactionsDisabledError(
  e: unknown,
): e is PreparedTransactionsDisabledError {
  return (
    e instanceof Error &&
    (e as Partial<PreparedTransactionsDisabledError>).isPreparedTransactionsDisabledError === true
  )
}
