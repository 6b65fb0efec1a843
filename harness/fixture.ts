import mysql from 'mysql2/promise'
import pg from 'pg'
import {
  type Coordinator,
  type CoordinatorOptions,
  createCoordinator,
  type Database,
} from '../src/index.js'
import { type MysqlDatabase, mysqlDatabase } from '../src/mysql/index.js'
import { pgDatabase } from '../src/pg/index.js'

type PgDatabase = Database<pg.PoolClient>
type MariaDatabase = MysqlDatabase<mysql.PoolConnection>

/** Pools and coordinators opened by one test, closed together. */
export class Fixture {
  readonly #closers: Array<() => Promise<unknown>> = []

  pg(url: string, name: string): { pool: pg.Pool; db: PgDatabase } {
    const pool = new pg.Pool({ connectionString: url, max: 20 })
    pool.on('error', () => {})
    this.#closers.push(() => pool.end())
    return { pool, db: pgDatabase(pool, { name }) }
  }

  mysql(url: string, name: string): { pool: mysql.Pool; db: MariaDatabase } {
    const pool = mysql.createPool({ uri: url, connectionLimit: 20 })
    this.#closers.push(() => pool.end())
    return { pool, db: mysqlDatabase(pool, { name }) }
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
