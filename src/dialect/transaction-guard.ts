/**
 * Recognises the statements a branch must not run: txkit alone begins, ends and hands over a
 * branch's transaction.
 */
export interface TransactionGuard {
  /**
   * When `sql` holds a statement that would begin, end or hand over a branch's transaction
   * (`COMMIT`, `ROLLBACK`, `BEGIN`, `PREPARE TRANSACTION`, `XA …`, an implicit commit), its name
   * for an error message; otherwise undefined. Savepoint statements are allowed.
   */
  transactionControl(sql: string): string | undefined
}
