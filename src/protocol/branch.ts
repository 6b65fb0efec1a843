import type { Database } from '../database/database.js'
import type { BranchGuard, DriverConnection, QueryResult } from '../driver/driver-connection.js'
import type { BranchReport, BranchState } from '../errors/branch-report.js'
import { TransactionControlRefusedError } from '../errors/transaction-control-refused-error.js'

/** What the transaction callback gets for each database: one branch of the transaction. */
export interface BranchHandle<Raw = unknown> {
  /** The names this branch was asked for under (two names on one database share a branch). */
  readonly names: readonly string[]
  readonly database: Database<Raw>
  /**
   * Runs a statement inside the branch and returns its rows. Placeholders are the driver's own
   * (`$1` for pg, `?` for mysql2).
   */
  query<Row = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<Row[]>
  /** Like {@link query}, with the count of changed rows. */
  execute<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<Row>>
  /**
   * The driver's connection the branch runs on, for query builders (Kysely, Drizzle …): the
   * driver's own object and type, guarded. Statements that would begin, end or hand over the
   * transaction (COMMIT, ROLLBACK, BEGIN, PREPARE TRANSACTION, XA …) and the driver's own
   * `commit()`, `rollback()`, `beginTransaction()` and `release()` are refused with
   * `TransactionControlRefusedError`: the transaction ends every branch itself.
   */
  readonly connection: Raw
}

/** One branch of a distributed transaction: a dedicated connection and its protocol state. */
export class Branch {
  readonly names: string[]
  readonly index: number
  readonly xid: string
  readonly database: Database
  readonly connection: DriverConnection
  state: BranchState = 'active'
  error: unknown = undefined
  /** Set when a rollback could not be confirmed on this session: it must be closed, not reused. */
  sessionDirty = false
  /** The branch inserted a fence row with its BEGIN (parallel protocol). */
  fenced = false
  readonly handle: BranchHandle
  #guardedConnection: unknown

  constructor(
    names: string[],
    index: number,
    xid: string,
    database: Database,
    connection: DriverConnection,
    assertUsable: () => void,
  ) {
    this.names = names
    this.index = index
    this.xid = xid
    this.database = database
    this.connection = connection
    const guard: BranchGuard = {
      statement: (sql) => {
        const refused = database.dialect.transactionControl(sql)
        if (refused !== undefined) this.#refuse(refused)
      },
      refuse: (call) => this.#refuse(call),
    }
    const execute = async <Row>(sql: string, params?: readonly unknown[]) => {
      assertUsable()
      if (typeof sql !== 'string') {
        throw new TypeError(`A branch runs SQL given as a string, not ${typeof sql}.`)
      }
      guard.statement(sql)
      return connection.query<Row>(sql, params)
    }
    const branch = this
    this.handle = {
      names,
      database,
      execute,
      query: async (sql, params) => (await execute(sql, params)).rows,
      get connection() {
        // Made on first use: most branches never hand their connection out.
        branch.#guardedConnection ??= connection.guarded?.(guard) ?? connection.raw
        return branch.#guardedConnection
      },
    } as BranchHandle
  }

  #refuse(statement: string): never {
    throw new TransactionControlRefusedError(
      statement,
      this.database.name,
      this.database.dialect.displayName,
    )
  }

  get dialect() {
    return this.database.dialect
  }

  /** True when the error (or the connection's own state) says the session is gone. */
  isLost(error: unknown): boolean {
    return this.connection.lost || this.dialect.isConnectionLost(error)
  }

  report(): BranchReport {
    const base = { names: this.names, index: this.index, xid: this.xid, state: this.state }
    return this.error === undefined ? base : { ...base, error: this.error }
  }

  /** Gives the connection back; closes it when its session holds anything unfinished. */
  release(): void {
    const clean = this.state === 'committed' || this.state === 'rolled-back'
    this.connection.release(!clean || this.sessionDirty || this.connection.lost)
  }
}
