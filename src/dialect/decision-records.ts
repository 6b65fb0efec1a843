import type { DriverConnection } from '../driver/driver-connection.js'
import type { TableName } from './table-name.js'

/** What inserting the commit decision answered. */
export type DecisionInsertOutcome =
  /** The decision row is written (committed with the statement, or with the branch it rides in). */
  | 'inserted'
  /** A row for this transaction exists already: recovery decided to abort it. */
  | 'already-decided'
  /** The database's clock is past the transaction's deadline; recovery may be aborting it. */
  | 'deadline-passed'

/** The decision table as recovery finds it. */
export interface DecisionLogState {
  /**
   * When the table was created (ms since the epoch, by the database's clock), from the stamp
   * `createDecisionLog` leaves on it or what the server records; undefined when unknown.
   */
  readonly createdAt: number | undefined
}

/**
 * The creation time recorded in the comment `createDecisionLog` leaves on a decision table
 * (`txkit decision log; created_ms=<ms since the epoch>`).
 *
 * @example
 * ```ts
 * stampedCreation('txkit decision log; created_ms=1700000000000') // 1700000000000
 * ```
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

/** The decision table: its DDL, the commit and abort decisions, and the scans recovery makes. */
export interface DecisionRecordsDialect {
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
}
