import { TransactionOutcomeError } from './transaction-outcome-error.js'

/**
 * The transaction is definitely rolled back on every database: no commit decision was written and
 * none ever will be. Safe to retry. `cause` is what made it roll back.
 */
export class TransactionRolledBackError extends TransactionOutcomeError {
  override readonly code = 'TXKIT_ROLLED_BACK'
  readonly isTransactionRolledBackError = true
}

/**
 * True when `e` is a {@link TransactionRolledBackError}.
 *
 * @example
 * ```ts
 * try { await coordinator.transaction(dbs, work) } catch (e) { if (isTransactionRolledBackError(e)) retry() }
 * ```
 */
export function isTransactionRolledBackError(e: unknown): e is TransactionRolledBackError {
  return (
    e instanceof Error &&
    (e as Partial<TransactionRolledBackError>).isTransactionRolledBackError === true
  )
}
