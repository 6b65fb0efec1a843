import type { ErrorPredicates } from '../dialect/error-predicates.js'
import {
  BranchOutsideTransaction,
  RolledBackByServer,
  UnconfirmedAnswer,
} from '../dialect/protocol-answers.js'
import { quoteTableName } from '../dialect/table-name.js'
import {
  type FinishOutcome,
  type PrepareOutcome,
  savepointSql,
  type TwoPhaseControl,
} from '../dialect/two-phase-control.js'
import {
  confirmedBySynchronousStandby,
  inOwnTransaction,
  markBranch,
  noteOwnTags,
  tagsAtBegin,
} from './postgres-branch-session.js'
import {
  OBJECT_NOT_IN_PREREQUISITE_STATE,
  sqlState,
  UNDEFINED_OBJECT,
} from './postgres-error-codes.js'
import { gidLiteral, ownLiteral } from './postgres-xid.js'

/** COMMIT / ROLLBACK PREPARED: 42704 is "does not exist", 55000 "is busy" (another session). */
function finishFailure(error: unknown): FinishOutcome {
  const code = sqlState(error)
  if (code === UNDEFINED_OBJECT) return 'not-found'
  if (code === OBJECT_NOT_IN_PREREQUISITE_STATE) return 'busy'
  throw error
}

/** PostgreSQL branches: BEGIN marked with the id, PREPARE TRANSACTION, COMMIT / ROLLBACK PREPARED. */
export const postgresTwoPhase: TwoPhaseControl = {
  preparedBranchMayStayAttached: false,

  async begin(connection, xid) {
    // Simple-query protocol: the statements travel in one message and run in one transaction.
    // Pipelined with the branch's first statement where the driver can: should BEGIN fail, the
    // session is closed or its transaction failed, so no later statement can run outside it.
    const begin = `BEGIN${markBranch(xid)}`
    if (connection.defer !== undefined) connection.defer(begin)
    else await connection.query(begin)
    noteOwnTags(connection)
  },

  async beginWithDecision(connection, xid, table, gtrid, participants, pipeline) {
    // A failed INSERT fails the transaction, so nothing after it can commit: safe to pipeline.
    const begin = `BEGIN${markBranch(xid)}; INSERT INTO ${quoteTableName(table, '"')} (gtrid, outcome, participants) VALUES (${ownLiteral(gtrid)}, 'C', ${ownLiteral(participants)})`
    if (pipeline !== undefined && connection.defer !== undefined) {
      connection.defer(begin, pipeline.explain)
    } else {
      await connection.query(begin)
    }
    noteOwnTags(connection)
  },

  async prepare(this: TwoPhaseControl & ErrorPredicates, connection, xid): Promise<PrepareOutcome> {
    // Outside a transaction block PREPARE TRANSACTION only warns and answers ROLLBACK, which would
    // report work committed behind txkit's back as rolled back.
    let result: Awaited<ReturnType<typeof inOwnTransaction>>
    try {
      result = await confirmedBySynchronousStandby(connection, 'PREPARE TRANSACTION', () =>
        inOwnTransaction(connection, xid, `PREPARE TRANSACTION ${gidLiteral(xid)}`),
      )
    } catch (error) {
      if (
        error instanceof BranchOutsideTransaction ||
        error instanceof UnconfirmedAnswer ||
        this.isConnectionLost(error)
      ) {
        throw error
      }
      // "If the PREPARE TRANSACTION command fails for any reason, it becomes a ROLLBACK."
      throw new RolledBackByServer(
        'PostgreSQL rolled the branch back: its PREPARE TRANSACTION failed',
        {
          cause: error,
        },
      )
    }
    // node-postgres reports the tag's first word, other drivers the whole tag. A transaction that
    // already failed (an error swallowed by user code) is rolled back instead: the tag says so.
    switch (result.command) {
      case 'PREPARE':
      case 'PREPARE TRANSACTION':
        return 'prepared'
      case 'ROLLBACK':
        return 'rolled-back'
      default:
        throw new UnconfirmedAnswer(
          `PostgreSQL answered PREPARE TRANSACTION with the command tag ${JSON.stringify(result.command ?? null)}, which says neither prepared nor rolled back`,
        )
    }
  },

  async commitOnePhase(connection, xid, before) {
    // A failed transaction is only ended: its COMMIT answers ROLLBACK, which says why.
    const statement =
      before === undefined || connection.transactionStatus?.() === 'failed'
        ? 'COMMIT'
        : `${before}; COMMIT`
    const result = await confirmedBySynchronousStandby(connection, 'COMMIT', () =>
      inOwnTransaction(connection, xid, statement),
    )
    switch (result.command) {
      case 'COMMIT':
        return 'committed'
      case 'ROLLBACK':
        return 'rolled-back'
      default:
        throw new UnconfirmedAnswer(
          `PostgreSQL answered COMMIT with the command tag ${JSON.stringify(result.command ?? null)}`,
        )
    }
  },

  async commitPrepared(connection, xid): Promise<FinishOutcome> {
    try {
      await connection.query(`COMMIT PREPARED ${gidLiteral(xid)}`)
      return 'done'
    } catch (error) {
      return finishFailure(error)
    }
  },

  async rollbackPrepared(connection, xid): Promise<FinishOutcome> {
    try {
      await connection.query(`ROLLBACK PREPARED ${gidLiteral(xid)}`)
      return 'done'
    } catch (error) {
      return finishFailure(error)
    }
  },

  async savepoint(connection, name, action) {
    const before = connection.transactionTags?.()
    await connection.query(savepointSql(name, action))
    // txkit's own ROLLBACK TO answers ROLLBACK: counted as its own, unless another statement's
    // tag slipped in meanwhile.
    if (action === 'rollback' && before !== undefined && before === tagsAtBegin.get(connection)) {
      if (connection.transactionTags?.() === before + 1) tagsAtBegin.set(connection, before + 1)
    }
  },

  async rollbackActive(connection, xid) {
    await inOwnTransaction(connection, xid, 'ROLLBACK')
  },
}
