import type { DriverConnection, QueryResult } from '../driver/driver-connection.js'

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

/** True for a value shaped like a better-sqlite3 `Database`. */
export function isSqliteDatabase(value: object): value is SqliteDatabaseLike {
  const shape = value as Partial<SqliteDatabaseLike> & { pragma?: unknown }
  return (
    typeof shape.prepare === 'function' &&
    typeof shape.pragma === 'function' &&
    typeof shape.inTransaction === 'boolean'
  )
}

/**
 * A txkit session over a better-sqlite3 database (synchronous underneath; answers as promises).
 * The caller keeps the database: `release` leaves it open.
 */
export function sqliteSession(database: SqliteDatabaseLike): DriverConnection<SqliteDatabaseLike> {
  return {
    raw: database,
    lost: false,
    release: () => undefined,
    async query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
      const statement = database.prepare(sql)
      if (statement.reader) return { rows: statement.all(...params) as Row[], affectedRows: 0 }
      return { rows: [], affectedRows: statement.run(...params).changes }
    },
  }
}
