/**
 * The drivers the suite runs over. `npm test` runs every test file once per driver pair (see
 * harness/run-tests.ts): TXKIT_TEST_POSTGRES_DRIVER picks how txkit reaches PostgreSQL
 * (node-postgres or postgres.js), TXKIT_TEST_MYSQL_DRIVER how it reaches MariaDB (mysql2 or the
 * mariadb connector). Assertions read the databases through pg and mysql2 whatever the driver
 * under test, so a driver can never grade its own work.
 */
import mariadb, { type PoolConnection as MariadbPoolConnection } from 'mariadb'
import mysql from 'mysql2/promise'
import pg from 'pg'
import postgres from 'postgres'
import type { DriverConnection } from '../src/driver/driver-connection.js'
import type { Database, UrlDriver } from '../src/index.js'
import { mariadbDatabase } from '../src/mysql/mariadb.js'
import { mysqlDatabase } from '../src/mysql/mysql2.js'
import { nodePostgresUrls, pgDatabase } from '../src/postgres/node-postgres.js'
import { postgresJsDatabase, postgresJsUrls } from '../src/postgres/postgres-js.js'

export type PostgresDriverName = 'node-postgres' | 'postgres-js'
export type MysqlDriverName = 'mysql2' | 'mariadb'

function pick<Name extends string>(variable: string, names: readonly Name[]): Name {
  const value = process.env[variable] ?? names[0]
  if (!names.includes(value as Name)) {
    throw new Error(`${variable}=${value}: expected one of ${names.join(', ')}`)
  }
  return value as Name
}

/** The PostgreSQL driver under test in this process. */
export const postgresDriver: PostgresDriverName = pick('TXKIT_TEST_POSTGRES_DRIVER', [
  'node-postgres',
  'postgres-js',
])
/** The MySQL-protocol driver under test in this process. */
export const mysqlDriver: MysqlDriverName = pick('TXKIT_TEST_MYSQL_DRIVER', ['mysql2', 'mariadb'])

/** How the driver under test opens `postgres://` URLs (the manager's `tx.connect`). */
export const postgresUrls: UrlDriver =
  postgresDriver === 'postgres-js' ? postgresJsUrls : nodePostgresUrls

/** A txkit database opened by a driver under test, with what closes its pool. */
export interface OpenedDatabase {
  readonly db: Database
  /**
   * The driver's own sessions txkit checked out, unguarded, in checkout order: what an ORM holding
   * the session another way could send on. MySQL-protocol sessions emit `end` when they go.
   */
  readonly sessions: unknown[]
  /** txkit's own sessions of this database (its driver adapter's), in checkout order. */
  readonly connections: DriverConnection[]
  /** Sends `sql` on one of `sessions`, bypassing txkit. */
  sendRaw(session: unknown, sql: string): Promise<unknown>
  close(): Promise<void>
}

/** Records every session txkit checks out of `db` (the adapter's own objects) in `into`. */
function watched<Db extends Database>(db: Db, into: DriverConnection[]): Db {
  const acquire = db.acquire.bind(db)
  return Object.assign(db, {
    async acquire() {
      const connection = await acquire()
      into.push(connection)
      return connection
    },
  })
}

/** Opens `url` as txkit database `name` with the PostgreSQL driver `driver`. */
export function openPostgres(
  url: string,
  name: string,
  max = 20,
  driver: PostgresDriverName = postgresDriver,
  /** node-postgres only: the pool to wrap (the test's own), rather than a new one. */
  shared?: pg.Pool,
): OpenedDatabase {
  const sessions: unknown[] = []
  const connections: DriverConnection[] = []
  if (driver === 'postgres-js') {
    const sql = postgres(url, { max, onnotice: () => {} })
    const reserve = sql.reserve.bind(sql)
    // postgres.js 4 answers a Leasing (a promise with cancel()); txkit only awaits it.
    sql.reserve = (async () => {
      const reserved = await reserve()
      sessions.push(reserved)
      return reserved
    }) as unknown as typeof sql.reserve
    return {
      db: watched(postgresJsDatabase(sql, { name }), connections),
      connections,
      sessions,
      sendRaw: (session, text) => (session as postgres.ReservedSql).unsafe(text),
      close: () => sql.end({ timeout: 1 }),
    }
  }
  const pool = shared ?? new pg.Pool({ connectionString: url, max })
  pool.on('error', () => {})
  pool.on('acquire', (client) => sessions.push(client))
  return {
    db: watched(pgDatabase(pool, { name }), connections),
    connections,
    sessions,
    sendRaw: (session, text) => (session as pg.PoolClient).query(text),
    close: () => (shared === undefined ? pool.end() : Promise.resolve()),
  }
}

/** Opens `url` as txkit database `name` with the MySQL-protocol driver `driver`. */
export async function openMysql(
  url: string,
  name: string,
  max = 20,
  driver: MysqlDriverName = mysqlDriver,
  /** mysql2 only: the pool to wrap (the test's own), rather than a new one. */
  shared?: mysql.Pool,
): Promise<OpenedDatabase> {
  const sessions: unknown[] = []
  const connections: DriverConnection[] = []
  if (driver === 'mariadb') {
    const parsed = new URL(url)
    const pool = mariadb.createPool({
      host: parsed.hostname,
      port: Number(parsed.port || 3306),
      user: decodeURIComponent(parsed.username),
      password: decodeURIComponent(parsed.password),
      ...(parsed.pathname.length > 1 && { database: decodeURIComponent(parsed.pathname.slice(1)) }),
      connectionLimit: max,
      // The connector opens minimumIdle (default: all) connections up front: the tests' many pools
      // would exhaust the server.
      minimumIdle: 1,
    })
    try {
      const getConnection = pool.getConnection.bind(pool)
      pool.getConnection = async () => {
        const connection = await getConnection()
        sessions.push(connection)
        return connection
      }
      return {
        db: watched(await mariadbDatabase(pool, { name }), connections),
        connections,
        sessions,
        sendRaw: (session, text) => (session as MariadbPoolConnection).query(text),
        close: () => pool.end(),
      }
    } catch (error) {
      await pool.end()
      throw error
    }
  }
  const pool = shared ?? mysql.createPool({ uri: url, connectionLimit: max })
  // The callback connection: it emits 'end' when its session goes, as the connector's does.
  pool.pool.on('acquire', (connection) => sessions.push(connection))
  return {
    db: watched(mysqlDatabase(pool, { name }), connections),
    connections,
    sessions,
    sendRaw: (session, text) =>
      (session as { promise(): mysql.PoolConnection }).promise().query(text),
    close: () => (shared === undefined ? pool.end() : Promise.resolve()),
  }
}

/** What `sqlOf` answers: the rows, and how many rows a write changed. */
export interface SqlAnswer {
  // biome-ignore lint/suspicious/noExplicitAny: rows of any shape, read by the tests
  readonly rows: any[]
  readonly rowCount: number
}

/**
 * Runs a statement on whatever session a driver under test handed an operation (a node-postgres
 * client, a postgres.js reserved connection, a mysql2 or mariadb connection), so that a test's
 * operation reads the same over every driver.
 */
export function sqlOf(session: unknown): (text: string, params?: unknown[]) => Promise<SqlAnswer> {
  if (typeof session === 'function') {
    const reserved = session as postgres.ReservedSql
    return async (text, params = []) => {
      const rows = await reserved.unsafe(text, params as never[])
      return { rows: [...rows], rowCount: rows.count ?? 0 }
    }
  }
  const shape = session as Record<string, unknown>
  if (typeof shape.batch === 'function') {
    const connection = session as MariadbPoolConnection
    return async (text, params) => {
      const answer = await connection.query(text, params)
      return Array.isArray(answer)
        ? { rows: answer, rowCount: answer.length }
        : { rows: [], rowCount: Number((answer as { affectedRows?: number }).affectedRows ?? 0) }
    }
  }
  if (typeof shape.execute === 'function' && 'connection' in shape) {
    const connection = session as mysql.PoolConnection
    return async (text, params) => {
      const [answer] = await connection.query(text, params)
      return Array.isArray(answer)
        ? { rows: answer, rowCount: answer.length }
        : { rows: [], rowCount: (answer as mysql.ResultSetHeader).affectedRows }
    }
  }
  const client = session as pg.PoolClient
  return async (text, params) => {
    const answer = await client.query(text, params)
    return { rows: answer.rows, rowCount: answer.rowCount ?? 0 }
  }
}
