import mysql from 'mysql2/promise'
import pg from 'pg'
import {
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
  createTransactionManager,
  type Database,
  type TransactionManager,
  type TransactionManagerOptions,
} from '../src/index.js'
import { CuttingProxy } from './cutting-proxy.js'
import {
  mysqlDriver,
  type OpenedDatabase,
  openMysql,
  openPostgres,
  postgresDriver,
} from './drivers.js'
import type { TestServer } from './test-databases.js'

/** Pools and coordinators opened by one test, closed together. */
export class Fixture {
  readonly #closers: Array<() => Promise<unknown>> = []

  /**
   * The PostgreSQL database at `url` as txkit database `name`, opened with the driver under test,
   * and a node-postgres pool for the test's own reads and writes.
   */
  pg(url: string, name: string): { pool: pg.Pool; db: Database; driver: OpenedDatabase } {
    const pool = new pg.Pool({ connectionString: url, max: 20 })
    pool.on('error', () => {})
    this.#closers.push(() => pool.end())
    // node-postgres under test wraps the test's own pool, as txkit's users do.
    const driver = openPostgres(url, name, 20, postgresDriver, pool)
    this.#closers.push(() => driver.close())
    return { pool, db: driver.db, driver }
  }

  /**
   * The MariaDB database at `url` as txkit database `name`, opened with the driver under test,
   * and a mysql2 pool for the test's own reads and writes.
   */
  async mysql(
    url: string,
    name: string,
  ): Promise<{ pool: mysql.Pool; db: Database; driver: OpenedDatabase }> {
    const pool = mysql.createPool({ uri: url, connectionLimit: 20 })
    this.#closers.push(() => pool.end())
    const driver = await openMysql(url, name, 20, mysqlDriver, pool)
    this.#closers.push(() => driver.close())
    return { pool, db: driver.db, driver }
  }

  /**
   * The PostgreSQL database at `url` reached through a {@link CuttingProxy} (stopped with the
   * fixture), as txkit database `name`: `proxy.cutAfter('COMMIT')` loses the next COMMIT's answer.
   */
  async pgThroughProxy(url: string, name: string) {
    const target = new URL(url)
    const proxy = await CuttingProxy.start(Number(target.port))
    this.#closers.push(() => proxy.stop())
    target.port = String(proxy.port)
    return { ...this.pg(target.toString(), name), proxy }
  }

  /** A fresh PostgreSQL database on `server` with a `marks (tx)` table, as txkit database `name`. */
  async markedPg(server: TestServer, name: string) {
    const url = await server.createDatabase()
    const { pool, db } = this.pg(url, name)
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
    return { name, url, pool, db }
  }

  /** A transaction manager whose decision table exists, closed with the fixture. */
  async manager(options: TransactionManagerOptions): Promise<TransactionManager> {
    const manager = createTransactionManager(options)
    this.#closers.unshift(() => manager.close())
    await manager.coordinator.createDecisionLog()
    return manager
  }

  coordinator(options: CoordinatorOptions): Coordinator {
    const coordinator = createCoordinator(options)
    this.#closers.unshift(() => coordinator.close())
    return coordinator
  }

  async close(): Promise<void> {
    for (const close of this.#closers.splice(0)) await close().catch(() => {})
  }
}

/** The `marks` of a PostgreSQL database, sorted. */
export async function pgMarks(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => row.tx)
}

/** Global ids of our prepared transactions in this PostgreSQL database. */
export async function pgPrepared(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ gid: string }>(
    'SELECT gid FROM pg_prepared_xacts WHERE database = current_database() ORDER BY gid',
  )
  return rows.map((row) => row.gid)
}

/** XA RECOVER on a MariaDB / MySQL server (server-wide), as gtrid strings. */
export async function xaRecover(pool: mysql.Pool): Promise<string[]> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>('XA RECOVER')
  return rows.map((row) => String(row.data).slice(0, Number(row.gtrid_length))).sort()
}
