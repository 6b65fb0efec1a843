import type { DriverConnection } from '../driver/driver-connection.js'
import type { FenceDialect } from './fence-dialect.js'
import type { LockDialect } from './lock-dialect.js'
import type { PreflightDialect } from './preflight-dialect.js'
import type { RunnerDialect } from './runner-dialect.js'
import type { TableName } from './table-name.js'

/** What a prepare answered. PostgreSQL answers a PREPARE on a failed transaction with ROLLBACK. */
export type PrepareOutcome = 'prepared' | 'rolled-back'

/**
 * What a commit or rollback by transaction id answered: `done`; `not-found` (finished already, or
 * never prepared); `busy` (another session is finishing it right now).
 */
export type FinishOutcome = 'done' | 'not-found' | 'busy'

/** What inserting the commit decision answered. */
export type DecisionInsertOutcome =
  /** The decision row is written (committed with the statement, or with the branch it rides in). */
  | 'inserted'
  /** A row for this transaction exists already: recovery decided to abort it. */
  | 'already-decided'
  /** The database's clock is past the transaction's deadline; recovery may be aborting it. */
  | 'deadline-passed'

/**
 * Thrown by a dialect when a branch's session turns out to be outside the transaction txkit began
 * on it (MySQL's XA state errors): something else ended it, and its work may be committed.
 */
export class BranchOutsideTransaction extends Error {}

/**
 * Thrown by a dialect when the server rolled the branch back in answer to a protocol statement that
 * failed (PostgreSQL turns a failed PREPARE TRANSACTION into a ROLLBACK). `cause` is the server's
 * error.
 */
export class RolledBackByServer extends Error {}

/**
 * Thrown by a dialect when the server's answer to a protocol statement is not one it knows (an
 * unexpected command tag): whether the statement took effect is unknown.
 */
export class UnconfirmedAnswer extends Error {}

/** What to do with a savepoint. */
export type SavepointAction = 'create' | 'rollback' | 'release'

const SAVEPOINT_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** The SQL of a savepoint action; both dialects share the standard syntax. */
export function savepointSql(name: string, action: SavepointAction): string {
  if (!SAVEPOINT_NAME.test(name))
    throw new TypeError(`Unexpected savepoint name ${JSON.stringify(name)}`)
  return action === 'create'
    ? `SAVEPOINT ${name}`
    : action === 'rollback'
      ? `ROLLBACK TO SAVEPOINT ${name}`
      : `RELEASE SAVEPOINT ${name}`
}

/** A prepared transaction found on a database. */
export interface PreparedTransaction {
  /** The id as txkit writes it; ids of another shape are rendered so that they never parse as ours. */
  readonly xid: string
  /** When it was prepared (ms since the epoch), where the server records it. */
  readonly preparedAt?: number
}

/** The decision table as recovery finds it. */
export interface DecisionLogState {
  /**
   * When the table was created (ms since the epoch, by the database's clock), from the stamp
   * `createDecisionLog` leaves on it or what the server records; undefined when unknown.
   */
  readonly createdAt: number | undefined
}

/**
 * The creation time recorded in the comment `createDecisionLog` leaves on a PostgreSQL decision
 * table (`txkit decision log; created_ms=<ms since the epoch>`).
 */
export function stampedCreation(comment: unknown): number | undefined {
  const match = typeof comment === 'string' ? /created_ms=(\d{1,16})/.exec(comment) : null
  return match ? Number(match[1]) : undefined
}

/**
 * A decision's outcome: 'C' commit, 'A' abort, 'S' staged (parallel protocol: committed once every
 * branch is prepared; recovery resolves it to 'C' or 'A').
 */
export type DecisionOutcome = 'C' | 'A' | 'S'

/** A row of the decision table. */
export interface DecisionRow {
  readonly gtrid: string
  readonly outcome: DecisionOutcome
  readonly participants: string
}

/** What inserting an abort decision answered. */
export type AbortInsertOutcome =
  /** The abort decision is recorded: roll every branch back. */
  | 'inserted'
  /** A decision exists already: read it and follow it. */
  | 'exists'
  /** The row is locked: a coordinator's commit decision is open. Leave it for the next round. */
  | 'busy'

/**
 * Everything that differs between databases: protocol SQL, error codes. The commit engine talks to
 * databases only through this interface and never names a vendor.
 */
export interface Dialect {
  /** For messages: `PostgreSQL`, `MySQL/MariaDB`. */
  readonly displayName: string
  /**
   * A prepared branch may stay attached to the session that prepared it, so that another session
   * asking for it by id is told it does not exist (MariaDB, MySQL before 8.0.29). A "not found"
   * from another session then proves nothing.
   */
  readonly preparedBranchMayStayAttached: boolean
  /** The database's locks (advisory locks, named locks); absent where it has none. */
  readonly locks?: LockDialect
  /** The parallel protocol's fence rows; absent where a database cannot take part in it. */
  readonly fences?: FenceDialect
  /** Checks of the server before any transaction runs (`checkDeployment`, `txkit check`). */
  readonly preflight?: PreflightDialect
  /**
   * The runner's dialect for the server behind `connection` (MySQL and MariaDB differ, so it may
   * ask the server); absent where the runner cannot work (user-written resources).
   */
  runnerDialect?(connection: DriverConnection): Promise<RunnerDialect>

  /**
   * When `sql` holds a statement that would begin, end or hand over a branch's transaction
   * (`COMMIT`, `ROLLBACK`, `BEGIN`, `PREPARE TRANSACTION`, `XA …`, an implicit commit), its name
   * for an error message; otherwise undefined. Savepoint statements are allowed.
   */
  transactionControl(sql: string): string | undefined

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
   */
  commitOnePhase(connection: DriverConnection, xid: string): Promise<PrepareOutcome | 'committed'>
  commitPrepared(connection: DriverConnection, xid: string): Promise<FinishOutcome>
  rollbackPrepared(connection: DriverConnection, xid: string): Promise<FinishOutcome>
  /** SAVEPOINT / ROLLBACK TO SAVEPOINT / RELEASE SAVEPOINT inside an open branch. */
  savepoint(connection: DriverConnection, name: string, action: SavepointAction): Promise<void>
  /** Rolls back a branch that is not prepared; throws when the session cannot be trusted after. */
  rollbackActive(connection: DriverConnection, xid: string): Promise<void>

  /**
   * Creates the decision table. Its only index is the primary key: coordinators delete the rows of
   * finished transactions, so the table stays small and the rare scans for old rows stay cheap, while
   * every commit is spared a second index entry to write and delete.
   */
  createDecisionLog(connection: DriverConnection, table: TableName): Promise<void>
  /**
   * The statements `createDecisionLog` runs, for migration tools (`txkit init --print-sql`):
   * idempotent, and stamping the table's creation time with the database's clock when they run.
   */
  decisionLogSql(table: TableName): string[]
  /**
   * Whether the decision table exists and since when; undefined when it does not. Recovery never
   * records an abort decision for a transaction older than its table: its decision may be in a
   * table that was lost or in another database.
   */
  describeDecisionLog(
    connection: DriverConnection,
    table: TableName,
  ): Promise<DecisionLogState | undefined>
  /**
   * Inserts the commit decision `(gtrid, outcome)` ('C', or 'S' staged) unless a decision exists or
   * the database's own clock is past `deadline` (ms since the epoch). With `session` (the id
   * `DriverConnection.sessionId` answered), the same statement fails, writing nothing, unless it
   * runs in that very server session.
   */
  insertCommitDecision(
    connection: DriverConnection,
    table: TableName,
    gtrid: string,
    participants: string,
    deadline: number,
    outcome?: 'C' | 'S',
    session?: number,
  ): Promise<DecisionInsertOutcome>
  /** Turns a staged decision ('S') into `outcome`; false when the row is not 'S' (or gone). */
  resolveStagedDecision(
    connection: DriverConnection,
    table: TableName,
    gtrid: string,
    outcome: 'C' | 'A',
  ): Promise<boolean>

  /**
   * Whether the list of prepared transactions covers one database (PostgreSQL) or the whole server
   * (MySQL / MariaDB `XA RECOVER`), where finishing works from any database of that server.
   */
  readonly preparedListScope: 'database' | 'server'
  listPrepared(connection: DriverConnection): Promise<PreparedTransaction[]>
  /** Whether `xid` is prepared now, without listing them all (else `listPrepared` is searched). */
  isPrepared?(connection: DriverConnection, xid: string): Promise<boolean>
  readDecisions(
    connection: DriverConnection,
    table: TableName,
    gtrids: readonly string[],
  ): Promise<DecisionRow[]>
  /** Decision rows older than `olderThanMs` by the database's clock, at most `limit`. */
  readOldDecisions(
    connection: DriverConnection,
    table: TableName,
    olderThanMs: number,
    limit: number,
  ): Promise<DecisionRow[]>
  /** Inserts `(gtrid, 'A')`, waiting at most `lockTimeoutMs` for a row lock. */
  insertAbortDecision(
    connection: DriverConnection,
    table: TableName,
    gtrid: string,
    participants: string,
    lockTimeoutMs: number,
  ): Promise<AbortInsertOutcome>
  deleteDecisions(
    connection: DriverConnection,
    table: TableName,
    rows: readonly DecisionRow[],
  ): Promise<void>
  /** Sends a notification outside any transaction (PostgreSQL NOTIFY); absent where none exists. */
  notify?(connection: DriverConnection, channel: string, payload: string): Promise<void>
  /** The database's clock, ms since the epoch. */
  now(connection: DriverConnection): Promise<number>

  /** The error says the session is gone (server-side codes; adapters flag client-side losses). */
  isConnectionLost(error: unknown): boolean
  isUndefinedTable(error: unknown): boolean
  /**
   * The error says a decision table refused a staged ('S') row: made before the parallel
   * protocol existed, its outcome constraint allows only 'C' and 'A'.
   */
  isOutcomeRefused?(error: unknown): boolean
  /**
   * When `error` (thrown by a prepare) means the server refuses two-phase commit, a message that
   * names the setting and the fix; otherwise undefined.
   */
  explainPrepareFailure(connection: DriverConnection, error: unknown): Promise<string | undefined>
}
