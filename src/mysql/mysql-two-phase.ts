import type { ErrorPredicates } from '../dialect/error-predicates.js'
import { BranchOutsideTransaction } from '../dialect/protocol-answers.js'
import {
  type FinishOutcome,
  savepointSql,
  type TwoPhaseControl,
} from '../dialect/two-phase-control.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { ER_XAER_NOTA, errno } from './mysql-error-codes.js'
import { xaXid } from './mysql-xid.js'

async function finishPrepared(
  connection: DriverConnection,
  verb: 'COMMIT' | 'ROLLBACK',
  xid: string,
): Promise<FinishOutcome> {
  try {
    await connection.query(`XA ${verb} ${xaXid(xid)}`)
    return 'done'
  } catch (error) {
    if (errno(error) === ER_XAER_NOTA) return 'not-found'
    throw error
  }
}

/** MySQL and MariaDB branches: every branch an XA branch, XA START … XA PREPARE / XA COMMIT. */
export const mysqlTwoPhase: TwoPhaseControl = {
  preparedBranchMayStayAttached: true,

  async begin(connection, xid) {
    // Every branch is an XA branch, even one that commits in one phase: in the XA ACTIVE state the
    // server itself refuses COMMIT, ROLLBACK, BEGIN and statements that commit implicitly.
    await connection.query(`XA START ${xaXid(xid)}`)
  },

  async prepare(connection, xid) {
    // A failed XA END (rollback-only after a deadlock, or no XA transaction at all) is told apart
    // by the XA ROLLBACK that rolls the branch back next.
    await connection.query(`XA END ${xaXid(xid)}`)
    await connection.query(`XA PREPARE ${xaXid(xid)}`)
    return 'prepared'
  },

  async commitOnePhase(this: TwoPhaseControl & ErrorPredicates, connection, xid) {
    try {
      await connection.query(`XA END ${xaXid(xid)}`)
    } catch (error) {
      if (this.isConnectionLost(error)) throw error
      // Rollback-only (a deadlock) or no XA transaction at all: XA ROLLBACK tells which, throwing
      // BranchOutsideTransaction for the latter; either way nothing of it commits here.
      await this.rollbackActive(connection, xid)
      throw error
    }
    await connection.query(`XA COMMIT ${xaXid(xid)} ONE PHASE`)
    return 'committed'
  },

  commitPrepared: (connection, xid) => finishPrepared(connection, 'COMMIT', xid),
  rollbackPrepared: (connection, xid) => finishPrepared(connection, 'ROLLBACK', xid),

  async savepoint(connection, name, action) {
    await connection.query(savepointSql(name, action))
  },

  async rollbackActive(connection, xid) {
    // After a deadlock or lock-wait timeout the branch is rollback-only: XA END fails with an
    // XA_RB* error, yet XA ROLLBACK must still be sent to free the session.
    await connection.query(`XA END ${xaXid(xid)}`).catch(() => undefined)
    if ((await finishPrepared(connection, 'ROLLBACK', xid)) === 'not-found') {
      throw new BranchOutsideTransaction(
        'the session was no longer in its XA transaction: XA statements txkit did not send ended it',
      )
    }
  },
}
