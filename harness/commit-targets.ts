/**
 * The databases the commit tests run over: a PostgreSQL decision database `a` (a participant too in
 * most tests) and participants on the target under test, PostgreSQL or MariaDB. Every commit
 * behaviour is checked once per target, as locks.test.ts checks every lock behaviour.
 */
import { test } from 'node:test'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import type { Database } from '../src/index.js'
import type { OpenedDatabase } from './drivers.js'
import type { FileServers } from './file-servers.js'
import { pgPrepared, xaRecover } from './fixture.js'

/** One database of a test: txkit's view of it (the driver under test) and the test's own. */
export interface TestDatabase {
  readonly url: string
  /** txkit's database, opened with the driver under test. */
  readonly db: Database
  readonly driver: OpenedDatabase
  /** Runs `sql` (with `?` placeholders) on the test's own pool, never the driver under test. */
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
  /** The `tx` of the `marks` table, sorted. */
  marks(): Promise<string[]>
  /**
   * The XIDs prepared in this database, sorted. Server-wide on MariaDB: XA RECOVER cannot tell one
   * database of a server from another.
   */
  prepared(): Promise<string[]>
  /** Rolls back a prepared XID from the test's own session (cleans up after an unknown outcome). */
  rollbackPrepared(xid: string): Promise<void>
  /** Ends the server session `id` from another one, and waits until it is gone. */
  kill(id: number): Promise<void>
}

/** One database under test, with what the tests need to do to it from outside. */
export interface Target {
  readonly name: 'PostgreSQL' | 'MariaDB'
  /** Whether this machine runs the target's server (MariaDB may be missing: its tests then skip). */
  available(): boolean
  /** A fresh database on the target's server with a `marks (tx, note)` table, as txkit's `name`. */
  database(name: string): Promise<TestDatabase>
  /** `database` opened a second time as txkit's `name`: another pool over the same database. */
  reopen(database: TestDatabase, name: string): Promise<TestDatabase>
  /** `sql` written with `?` placeholders, as this target's drivers take it. */
  sql(text: string): string
  /** A statement answering the server's id of the session it runs on, as `id`. */
  readonly sessionIdSql: string
  /** Whether `error` is the server choosing this session as a deadlock's victim. */
  isDeadlock(error: unknown): boolean
}

/** The PostgreSQL database the tests keep their decisions in; its test pool reads the decision table. */
export interface PostgresDatabase extends TestDatabase {
  readonly pool: pg.Pool
}

/** `?` placeholders numbered for PostgreSQL. */
function numbered(text: string): string {
  let index = 0
  return text.replace(/\?/g, () => `$${++index}`)
}

/** The PostgreSQL target, also where every test keeps its decision log. */
export function postgresTarget(servers: FileServers) {
  const wrap = (url: string, name: string): PostgresDatabase => {
    const { pool, db, driver } = servers.fixture.pg(url, name)
    const query = async (sql: string, params?: unknown[]) =>
      (await pool.query(numbered(sql), params)).rows as Record<string, unknown>[]
    return {
      url,
      db,
      driver,
      pool,
      query,
      async marks() {
        return (await query('SELECT tx FROM marks ORDER BY tx')).map((row) => String(row.tx))
      },
      prepared: () => pgPrepared(pool),
      async rollbackPrepared(xid) {
        await pool.query(`ROLLBACK PREPARED '${xid}'`)
      },
      async kill(id) {
        // With a timeout, pg_terminate_backend waits until the session is gone.
        await pool.query('SELECT pg_terminate_backend($1::int, 10000)', [id])
      },
    }
  }
  const target = {
    name: 'PostgreSQL' as const,
    available: () => true,
    async database(name: string): Promise<PostgresDatabase> {
      const opened = wrap(await servers.postgres.createDatabase(), name)
      await opened.query('CREATE TABLE marks (tx text PRIMARY KEY, note text)')
      return opened
    },
    async reopen(database: TestDatabase, name: string): Promise<PostgresDatabase> {
      return wrap(database.url, name)
    },
    sql: numbered,
    sessionIdSql: 'SELECT pg_backend_pid() AS id',
    isDeadlock: (error: unknown) => (error as { code?: string }).code === '40P01',
  } satisfies Target
  return target
}

/** The MariaDB target (its server: `servers.mariadb`). */
export function mariadbTarget(servers: FileServers): Target {
  const wrap = async (url: string, name: string): Promise<TestDatabase> => {
    const { pool, db, driver } = await servers.fixture.mysql(url, name)
    const query = async (sql: string, params?: unknown[]) =>
      (await pool.query<mysql.RowDataPacket[]>(sql, params))[0] as Record<string, unknown>[]
    return {
      url,
      db,
      driver,
      query,
      async marks() {
        return (await query('SELECT tx FROM marks ORDER BY tx')).map((row) => String(row.tx))
      },
      prepared: () => xaRecover(pool),
      async rollbackPrepared(xid) {
        // MariaDB may answer a rollback it did with XA_RBROLLBACK (1402); what stays prepared
        // tells whether it did.
        await pool
          .query(`XA ROLLBACK X'${Buffer.from(xid, 'utf8').toString('hex')}'`)
          .catch((error: { errno?: number }) => {
            if (error.errno !== 1402) throw error
          })
      },
      async kill(id) {
        await pool.query(`KILL ${Number(id)}`)
      },
    }
  }
  const target: Target = {
    name: 'MariaDB',
    available: () => servers.mariadb !== undefined,
    async database(name) {
      if (servers.mariadb === undefined) throw new Error('no MariaDB')
      const opened = await wrap(await servers.mariadb.createDatabase(), name)
      await opened.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY, note text) ENGINE=InnoDB')
      return opened
    },
    reopen: (database, name) => wrap(database.url, name),
    sql: (text) => text,
    sessionIdSql: 'SELECT CONNECTION_ID() AS id',
    isDeadlock: (error) => (error as { errno?: number }).errno === 1213,
  }
  return target
}

/** Registers a test of `target` that skips (loudly, see the warning) when its server is missing. */
export function targetTest(target: Target, title: string, body: () => Promise<void>): void {
  test(title, async (t) => {
    if (!target.available()) return t.skip(`no ${target.name}: see the warning above`)
    await body()
  })
}

/** The XIDs prepared in any of `databases`, each once, sorted. */
export async function preparedIn(...databases: TestDatabase[]): Promise<string[]> {
  const all = await Promise.all(databases.map((database) => database.prepared()))
  return [...new Set(all.flat())].sort()
}

/** The server's id of the session a branch runs on. */
export async function sessionId(
  target: Target,
  branch: { query<Row>(sql: string): Promise<Row[]> },
): Promise<number> {
  const [row] = await branch.query<{ id: number }>(target.sessionIdSql)
  return Number(row?.id)
}

/** The rows of a decision table, by gtrid. */
export async function decisionRows(
  database: TestDatabase,
): Promise<Array<{ gtrid: string; outcome: string }>> {
  const rows = await database.query('SELECT gtrid, outcome FROM txkit_decision ORDER BY gtrid')
  return rows.map((row) => ({ gtrid: String(row.gtrid), outcome: String(row.outcome) }))
}

/**
 * PostgreSQL decision database `a` and participants `b`, `c` on `target`, each with `marks`, and
 * a coordinator whose decision log (created) is `a`.
 */
export async function threeDatabases(
  servers: FileServers,
  target: Target,
  options: { protocol?: 'decision' | 'sequential' } = {},
) {
  const postgres = postgresTarget(servers)
  const [a, b, c] = await Promise.all([
    postgres.database('a'),
    target.database('b'),
    target.database('c'),
  ])
  const coordinator = servers.fixture.coordinator({
    decisionLog: a.db,
    protocol: options.protocol ?? 'decision',
  })
  await coordinator.createDecisionLog()
  return { a, b, c, coordinator }
}
