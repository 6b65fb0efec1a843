import { BranchOutsideTransaction, UnconfirmedAnswer } from '../dialect/protocol-answers.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { DIVISION_BY_ZERO, IN_FAILED_SQL_TRANSACTION, sqlState } from './postgres-error-codes.js'
import { gidLiteral } from './postgres-xid.js'

/**
 * Marks the transaction txkit begins on a branch with its id, in a setting local to that
 * transaction: it ends with the transaction, so a COMMIT or ROLLBACK followed by a BEGIN that
 * txkit did not send leaves a transaction without it.
 */
export function markBranch(xid: string): string {
  // SET takes no snapshot, so SET TRANSACTION ISOLATION LEVEL may still follow it.
  return `; SET LOCAL txkit.branch = ${gidLiteral(xid)}`
}

/**
 * Each branch session's count of transaction-control command tags right after txkit's own BEGIN
 * (and its own savepoint rollbacks): while the count is unchanged, nothing can have ended or
 * replaced the transaction, and the mark needs no checking.
 */
export const tagsAtBegin = new WeakMap<DriverConnection, number>()

export function noteOwnTags(connection: DriverConnection): void {
  const tags = connection.transactionTags?.()
  if (tags !== undefined) tagsAtBegin.set(connection, tags)
}

/**
 * Runs `statement` (PREPARE TRANSACTION, COMMIT, ROLLBACK) only inside the transaction txkit began
 * on this session: outside a transaction block all three merely warn, and in another transaction
 * they would act on work that is not the branch's. The status the protocol reported after the
 * last statement rules out "no transaction" for free; the mark, checked in the same message
 * (a division by zero when it differs), rules out "another transaction". The check is skipped when
 * the session answered no transaction-control statement since txkit's BEGIN.
 */
export async function inOwnTransaction(
  connection: DriverConnection,
  xid: string,
  statement: string,
) {
  const status = connection.transactionStatus?.()
  if (status === 'idle') {
    throw new BranchOutsideTransaction(
      'the session is not inside a transaction: a COMMIT or ROLLBACK that txkit did not send ended it',
    )
  }
  // A failed transaction runs nothing but its end: PREPARE and COMMIT then answer ROLLBACK.
  if (status === 'failed') return connection.query(statement)
  const tags = connection.transactionTags?.()
  if (tags !== undefined && tags === tagsAtBegin.get(connection)) return connection.query(statement)
  try {
    return await connection.query(
      `SELECT 1 / (coalesce(current_setting('txkit.branch', true), '') = ${gidLiteral(xid)})::int; ${statement}`,
    )
  } catch (error) {
    const code = sqlState(error)
    if (code === DIVISION_BY_ZERO) {
      throw new BranchOutsideTransaction(
        'the session is inside another transaction than the one txkit began: a COMMIT or ROLLBACK and a BEGIN that txkit did not send replaced it',
      )
    }
    // A driver that does not report the status, on a failed transaction.
    if (code === IN_FAILED_SQL_TRANSACTION) return connection.query(statement)
    throw error
  }
}

/**
 * Runs `send` (a statement that commits or prepares), and does not take its success at face value
 * when PostgreSQL warned, along with it, that it stopped waiting for its synchronous standby (a
 * cancelled wait: `pg_cancel_backend`, a client's cancel request). PostgreSQL then answers success
 * although the change is only on this server: a failover to the standby would lose it. The warning
 * is recognised by its untranslated routine; drivers that do not show notices (postgres.js) cannot
 * be told.
 */
export async function confirmedBySynchronousStandby<Result>(
  connection: DriverConnection,
  statement: string,
  send: () => Promise<Result>,
): Promise<Result> {
  let warning: string | undefined
  const stop = connection.onNotice?.((notice) => {
    if (notice.routine === 'SyncRepWaitForLSN') warning = notice.message
  })
  let result: Result
  try {
    result = await send()
  } finally {
    stop?.()
  }
  if (warning !== undefined) {
    throw new UnconfirmedAnswer(
      `PostgreSQL answered ${statement} with the warning "${warning}": it took effect on this server but may be missing on its synchronous standby, which a failover would promote`,
    )
  }
  return result
}
