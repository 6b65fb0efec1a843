import type { HeldSession } from '../../../database/held-session.js'
import type { DriverConnection, QueryResult } from '../../../driver/driver-connection.js'
import { ConfigurationError } from '../../../errors/configuration-error.js'
import { sqliteRunnerDialect } from '../../sqlite-runner-dialect.js'

/** The part of a better-sqlite3 statement txkit uses. */
export interface SqliteStatementLike {
  readonly reader: boolean
  all(...params: unknown[]): unknown[]
  run(...params: unknown[]): { changes: number }
}

/** The part of a better-sqlite3 `Database` txkit uses. */
export interface SqliteDatabaseLike {
  prepare(sql: string): SqliteStatementLike
  readonly inTransaction: boolean
}

/**
 * A better-sqlite3 database (synchronous underneath; answered as promises) for `runner.run`: in
 * savepoints while it is in a transaction, in transactions of the runner's own otherwise. The
 * caller keeps the database: txkit never closes it. The operation receives the database.
 *
 * @example
 * ```ts
 * import Database from 'better-sqlite3'
 * import { sqliteSession } from 'txkit/better-sqlite3'
 *
 * const db = new Database('app.db')
 * await runner.run(sqliteSession(db), (d) => d.prepare('UPDATE stock SET n = n - 1').run())
 * ```
 */
export function sqliteSession<Database extends SqliteDatabaseLike>(
  database: Database,
): HeldSession<Database> {
  if (database === null || typeof database !== 'object' || typeof database.prepare !== 'function') {
    throw new ConfigurationError(
      'sqliteSession() needs a better-sqlite3 Database (new Database(file)): the value given has no prepare() method.',
    )
  }
  const connection: DriverConnection<Database> = {
    raw: database,
    lost: false,
    release: () => undefined,
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      const statement = database.prepare(sql)
      if (statement.reader) return { rows: statement.all(...params) as Row[], affectedRows: 0 }
      return { rows: [], affectedRows: statement.run(...params).changes }
    },
  }
  return {
    kind: 'held-session',
    connection,
    inTransaction: () => database.inTransaction,
    runnerDialect: async () => sqliteRunnerDialect,
  }
}
