import { TxkitError } from './txkit-error.js'

/**
 * A statement (or driver call) that would begin, end or hand over a branch's transaction was sent
 * through a handle txkit gave out: `COMMIT`, `ROLLBACK`, `BEGIN`, `END`, `PREPARE TRANSACTION`,
 * `XA …`, `SET autocommit`, a MySQL statement that commits implicitly, or the driver's own
 * `commit()`, `beginTransaction()` or `release()`. It was not sent. Such a statement would commit
 * this database's work outside the two-phase commit, and could split the transaction. txkit commits
 * or rolls back every branch itself; to undo part of the work use a savepoint.
 */
export class TransactionControlRefusedError extends TxkitError {
  override readonly code = 'TXKIT_TRANSACTION_CONTROL_REFUSED'
  readonly isTransactionControlRefusedError = true

  /** What was refused, as it was recognised: `COMMIT`, `ROLLBACK`, `release()`, … */
  readonly statement: string
  /** The stable name of the database whose branch it was sent to. */
  readonly database: string

  constructor(statement: string, database: string, displayName: string) {
    super(
      `txkit refused ${statement} on the transaction branch of database "${database}" (${displayName}): ` +
        "it would begin, end or hand over the branch's transaction, committing its work outside the " +
        'two-phase commit, which can split the transaction. txkit ends every branch itself: return ' +
        'from the transaction callback (or call commit() / rollback()). To undo part of the work, use a ' +
        'savepoint (tx.savepoint(), or SAVEPOINT / ROLLBACK TO SAVEPOINT in SQL); for a query builder ' +
        'or ORM whose transaction() sends BEGIN/COMMIT, use its txkit integration. Nothing was sent.',
    )
    this.statement = statement
    this.database = database
  }
}

/**
 * True when `e` is a {@link TransactionControlRefusedError}, even from another copy of txkit.
 *
 * @example
 * ```ts
 * try {
 *   await branch.query('COMMIT')
 * } catch (e) {
 *   if (isTransactionControlRefusedError(e)) console.log(e.statement) // 'COMMIT'
 * }
 * ```
 */
export function isTransactionControlRefusedError(e: unknown): e is TransactionControlRefusedError {
  return (
    e instanceof Error &&
    (e as Partial<TransactionControlRefusedError>).isTransactionControlRefusedError === true
  )
}
