import type { TransactionRun } from '../protocol/transaction-run.js'

/**
 * Ends a transaction's `txkit.transaction` span with its outcome (`status`), the databases it
 * spanned and, once committed, how many branches were left pending.
 */
export function endTransactionSpan(
  run: TransactionRun,
  status: string,
  error: unknown,
  pending?: number,
): void {
  const span = run.span
  if (span === undefined) return
  span.set({
    'txkit.transaction.outcome': status,
    'txkit.transaction.databases': run.branches.map((branch) => branch.database.name),
    ...(pending !== undefined && { 'txkit.transaction.pending': pending }),
  })
  span.end(error)
}
