import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import {
  type DecisionInsertOutcome,
  type DecisionOutcome,
  UnconfirmedAnswer,
} from '../dialect/dialect.js'
import { parseTableName, type TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { DecisionLogMissingError } from '../errors/decision-log-missing-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import { DEFAULT_DECISION_TABLE, decisionLogTag } from '../xid/decision-log-tag.js'
import { BatchedDeletion } from './batched-deletion.js'

export { DEFAULT_DECISION_TABLE }

/** Where the commit decisions of one deployment are recorded. */
export interface DecisionLogOptions {
  /** The database holding the decision table. Every writer and recovery worker names the same. */
  readonly database: Database
  /** `table` or `schema.table`; default `txkit_decision`. */
  readonly table?: string
}

/**
 * The decision log an option names: a database (its default table), or `{ database, table }`;
 * undefined when the option is absent.
 *
 * @example
 * ```ts
 * decisionLogOf({ database: orders, table: 'billing.decisions' }, console)?.tableText // 'billing.decisions'
 * ```
 */
export function decisionLogOf(
  option: Database | DecisionLogOptions | undefined,
  logger: Logger,
): DecisionLog | undefined {
  if (option === undefined) return undefined
  return new DecisionLog('acquire' in option ? { database: option } : option, logger)
}

/** Inserting a decision failed; `sent` says whether the statement may have reached the server. */
export class DecisionInsertFailure {
  constructor(
    readonly sent: boolean,
    readonly lost: boolean,
    readonly cause: unknown,
  ) {}
}

/** Why a decision insert that answered did not decide commit. */
export const NOT_INSERTED: Record<Exclude<DecisionInsertOutcome, 'inserted'>, string> = {
  'already-decided': 'a recovery worker had already decided to abort it',
  'deadline-passed':
    "the decision database's clock is past the transaction's deadline (raise maxTransactionDuration, or check the clocks)",
}

const DECISION_LOG_OPTIONS: ReadonlySet<string> = new Set(['database', 'table'])

/**
 * The decision table: one row per transaction that reached its decision. A 'C' row is the
 * commit point; rows of finished transactions are deleted in batches, off the commit path.
 */
export class DecisionLog {
  readonly database: Database
  readonly table: TableName
  readonly tableText: string
  /** How transaction ids name this log (see `decisionLogTag`). */
  readonly tag: string
  readonly #logger: Logger
  readonly #finished = new BatchedDeletion<Database, string>((_, gtrids) => this.#delete(gtrids))
  #seenWorking = false

  constructor(options: DecisionLogOptions, logger: Logger) {
    checkOptionNames(options, DECISION_LOG_OPTIONS, 'decisionLog')
    assertDatabase(options?.database, 'decisionLog.database')
    this.database = options.database
    this.tableText = options.table ?? DEFAULT_DECISION_TABLE
    this.table = parseTableName(this.tableText)
    this.tag = decisionLogTag(this.database.name, this.tableText)
    this.#logger = logger
  }

  /**
   * True once a decision row went in: from then on a branch's BEGIN and its row may be pipelined
   * with the branch's first statement (postgres.js). Until then they are awaited, so that a missing
   * table is reported before any work, as `DecisionLogMissingError` in a rolled-back transaction.
   */
  get seenWorking(): boolean {
    return this.#seenWorking
  }

  /** A decision row went in. */
  markWorking(): void {
    this.#seenWorking = true
  }

  /** Creates the table if it does not exist. */
  async create(): Promise<void> {
    const connection = await this.database.acquire()
    try {
      await this.database.dialect.createDecisionLog(connection, this.table)
      connection.release(false)
    } catch (error) {
      connection.release(true)
      throw new DecisionLogMissingError(
        this.database.name,
        this.tableText,
        `Could not create the decision table ${this.tableText} in database "${this.database.name}": ${errorMessage(error)}. ` +
          'Grant the CREATE privilege for this call, or create it as an administrator with `txkit init`.',
        { cause: error },
      )
    }
  }

  /**
   * Inserts the commit decision ('C', or 'S' staged) inside a branch of the decision database;
   * with `session`, only if the statement runs in that server session (see the dialect).
   */
  insertIn(
    connection: DriverConnection,
    gtrid: string,
    participants: string,
    deadline: number,
    outcome: 'C' | 'S' = 'C',
    session?: number,
  ): Promise<DecisionInsertOutcome> {
    return this.database.dialect.insertCommitDecision(
      connection,
      this.table,
      gtrid,
      participants,
      deadline,
      outcome,
      session,
    )
  }

  /**
   * Inserts the commit decision as a statement of its own, committed with it.
   *
   * @throws DecisionInsertFailure
   */
  async insertAlone(
    gtrid: string,
    participants: string,
    deadline: number,
  ): Promise<DecisionInsertOutcome> {
    let connection: DriverConnection
    try {
      connection = await this.database.acquire()
    } catch (error) {
      throw new DecisionInsertFailure(false, false, error)
    }
    try {
      const inserted = await this.insertIn(connection, gtrid, participants, deadline)
      connection.release(false)
      return inserted
    } catch (error) {
      connection.release(true)
      // An answer that does not confirm the insert leaves it as unknown as a lost one.
      const lost =
        connection.lost ||
        this.database.dialect.isConnectionLost(error) ||
        error instanceof UnconfirmedAnswer
      throw new DecisionInsertFailure(true, lost, error)
    }
  }

  /**
   * Turns this transaction's staged decision ('S') into `outcome` on `connection`; false when the
   * row says something else or is gone.
   */
  resolveStagedOn(
    connection: DriverConnection,
    gtrid: string,
    outcome: 'C' | 'A',
  ): Promise<boolean> {
    return this.database.dialect.resolveStagedDecision(connection, this.table, gtrid, outcome)
  }

  /** What this transaction's decision row says on `connection`; undefined when there is none. */
  async readOn(connection: DriverConnection, gtrid: string): Promise<DecisionOutcome | undefined> {
    const rows = await this.database.dialect.readDecisions(connection, this.table, [gtrid])
    return rows.find((row) => row.gtrid === gtrid)?.outcome
  }

  /** When `error` says the table is missing, the error to report instead. */
  explain(error: unknown): unknown {
    if (this.database.dialect.isOutcomeRefused?.(error) === true) {
      return new DecisionLogMissingError(
        this.database.name,
        this.tableText,
        `The decision table ${this.tableText} in database "${this.database.name}" was made before the parallel protocol and refuses staged ('S') rows. ` +
          'Run `await coordinator.createDecisionLog()` (or `txkit init`) once more: it widens the table in place.',
        { cause: error },
      )
    }
    if (!this.database.dialect.isUndefinedTable(error)) return error
    return new DecisionLogMissingError(
      this.database.name,
      this.tableText,
      `The decision table ${this.tableText} does not exist in database "${this.database.name}". ` +
        'Create it once with `await coordinator.createDecisionLog()` (or `txkit init`).',
      { cause: error },
    )
  }

  /** Queues the decision row of a fully finished transaction for deletion. */
  forget(gtrid: string): void {
    this.#finished.queue(this.database, gtrid)
  }

  /** Deletes the queued rows now. Never throws: a row left behind is removed by recovery later. */
  flush(): Promise<void> {
    return this.#finished.flush()
  }

  async #delete(gtrids: string[]): Promise<void> {
    try {
      await withConnection(this.database, (connection) =>
        this.database.dialect.deleteDecisions(
          connection,
          this.table,
          gtrids.map((gtrid) => ({ gtrid, outcome: 'C', participants: '' })),
        ),
      )
    } catch (error) {
      this.#logger.warn(
        { count: gtrids.length, error: errorMessage(error) },
        'txkit: could not delete finished decision rows; recovery removes them later',
      )
    }
  }
}
