import { TxkitError } from './txkit-error.js'

/**
 * A transaction was used after it finished (or while it was committing), or asked to commit when
 * it can only be rolled back (a savepoint rollback failed part-way). A programming error.
 */
export class TransactionStateError extends TxkitError {
  override readonly code = 'TXKIT_TRANSACTION_STATE'
  readonly isTransactionStateError = true
}

/**
 * True when `e` is a {@link TransactionStateError}.
 *
 * @example
 * ```ts
 * await tx.commit(); await tx.branches.a.query('select 1').catch((e) => isTransactionStateError(e)) // true
 * ```
 */
export function isTransactionStateError(e: unknown): e is TransactionStateError {
  return (
    e instanceof Error && (e as Partial<TransactionStateError>).isTransactionStateError === true
  )
}
