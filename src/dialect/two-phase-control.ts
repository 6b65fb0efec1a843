import type { DriverConnection } from '../driver/driver-connection.js'
import type { TableName } from './table-name.js'

/** What a prepare answered. PostgreSQL answers a PREPARE on a failed transaction with ROLLBACK. */
export type PrepareOutcome = 'prepared' | 'rolled-back'

/**
 * What a commit or rollback by transaction id answered: `done`; `not-found` (finished already, or
 * never prepared); `busy` (another session is finishing it right now).
 */
export type FinishOutcome = 'done' | 'not-found' | 'busy'

/** What to do with a savepoint. */
export type SavepointAction = 'create' | 'rollback' | 'release'

const SAVEPOINT_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/**
 * The SQL of a savepoint action; every dialect shares the standard syntax.
 *
 * @example
 * ```ts
 * savepointSql('txkit_1', 'rollback') // 'ROLLBACK TO SAVEPOINT txkit_1'
 * ```
 */
export function savepointSql(name: string, action: SavepointAction): string {
  if (!SAVEPOINT_NAME.test(name))
    throw new TypeError(`Unexpected savepoint name ${JSON.stringify(name)}`)
  return action === 'create'
    ? `SAVEPOINT ${name}`
    : action === 'rollback'
      ? `ROLLBACK TO SAVEPOINT ${name}`
      : `RELEASE SAVEPOINT ${name}`
}

/**
 * A branch's transaction under its id: open it, prepare it, finish it in one or two phases, roll
 * it back, set savepoints in it. The commit protocols drive branches only through this role.
 */
export interface TwoPhaseControl {
  /**
   * A prepared branch may stay attached to the session that prepared it, so that another session
   * asking for it by id is told it does not exist (MariaDB, MySQL before 8.0.29). A "not found"
   * from another session then proves nothing.
   */
  readonly preparedBranchMayStayAttached: boolean
  /** Opens a branch under its id (a branch that commits in one phase is never prepared). */
  begin(connection: DriverConnection, xid: string): Promise<void>
  /**
   * Opens the decision database's (one-phase) branch and inserts the commit decision in it, in one
   * message where the protocol allows. The uncommitted row blocks any recovery worker's abort
   * decision for this transaction, and the branch's COMMIT makes it the decision. Dialects that
   * cannot do both in one round trip leave this out; the row is then inserted at commit time.
   * With `pipeline`, where the driver pipelines, the message may travel with the branch's first
   * statement; its failure is then thrown, through `pipeline.explain`, by that statement.
   */
  beginWithDecision?(
    connection: DriverConnection,
    xid: string,
    table: TableName,
    gtrid: string,
    participants: string,
    pipeline: { readonly explain: (error: unknown) => unknown } | undefined,
  ): Promise<void>
  prepare(connection: DriverConnection, xid: string): Promise<PrepareOutcome>
  /**
   * Commits a branch that was never prepared, in one phase: the decision database's branch, or the
   * only branch of a transaction (then opened with `xid`, which MySQL needs for XA COMMIT ONE PHASE).
   * `before`: statements of the transaction to run first, in the same message, where the dialect's
   * outbox offers `insertStatement` (no round trip of their own). Should one fail, the COMMIT does
   * not run: the error is thrown and the transaction is rolled back, or left failed for the caller
   * to close (`DriverConnection.transactionStatus` says which).
   */
  commitOnePhase(
    connection: DriverConnection,
    xid: string,
    before?: string,
  ): Promise<PrepareOutcome | 'committed'>
  commitPrepared(connection: DriverConnection, xid: string): Promise<FinishOutcome>
  rollbackPrepared(connection: DriverConnection, xid: string): Promise<FinishOutcome>
  /** SAVEPOINT / ROLLBACK TO SAVEPOINT / RELEASE SAVEPOINT inside an open branch. */
  savepoint(connection: DriverConnection, name: string, action: SavepointAction): Promise<void>
  /** Rolls back a branch that is not prepared; throws when the session cannot be trusted after. */
  rollbackActive(connection: DriverConnection, xid: string): Promise<void>
}
