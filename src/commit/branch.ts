import type { Database } from '../driver/database.js'
import type { DriverConnection, QueryResult } from '../driver/driver-connection.js'
import type { BranchReport, BranchState } from './branch-report.js'

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
   * The driver's connection the branch runs on, for query builders (Kysely, Drizzle …). Do not
   * commit, roll back or release it: the transaction does.
   */
  readonly connection: Raw
}

/** One branch of a distributed transaction: a dedicated connection and its protocol state. */
export class Branch {
  readonly names: string[]
  readonly index: number
  readonly xid: string | null
  readonly database: Database
  readonly connection: DriverConnection
  state: BranchState = 'active'
  error: unknown = undefined
  /** Set when a rollback could not be confirmed on this session: it must be closed, not reused. */
  sessionDirty = false
  readonly handle: BranchHandle

  constructor(
    names: string[],
    index: number,
    xid: string | null,
    database: Database,
    connection: DriverConnection,
    assertUsable: () => void,
  ) {
    this.names = names
    this.index = index
    this.xid = xid
    this.database = database
    this.connection = connection
    const execute = async <Row>(sql: string, params?: readonly unknown[]) => {
      assertUsable()
      return connection.query<Row>(sql, params)
    }
    this.handle = {
      names,
      database,
      execute,
      query: async (sql, params) => (await execute(sql, params)).rows,
      connection: connection.raw,
    } as BranchHandle
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
