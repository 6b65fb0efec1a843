/**
 * The bank the integration tests (Kysely, Drizzle, Knex, TypeORM, Prisma) write through their
 * tools: a PostgreSQL database with accounts (1: 100, 2: 0) and an `entries` table, and the reads
 * that assert on its rows.
 */
import mysql from 'mysql2/promise'
import type pg from 'pg'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import type { FileServers } from './file-servers.js'

const ENTRIES = 'id text PRIMARY KEY, amount int NOT NULL'

/**
 * A fresh bank named `name`: `database` wraps the test's node-postgres pool (the driver the
 * tools' adapters need), `db` is the same database through the driver under test.
 */
export async function toolBank(servers: FileServers, name: string, entries = ENTRIES) {
  const url = await servers.postgres.createDatabase()
  const { pool, db } = servers.fixture.pg(url, name)
  await pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)')
  await pool.query('INSERT INTO accounts VALUES (1, 100), (2, 0)')
  await pool.query(`CREATE TABLE entries (${entries})`)
  return { url, pool, db, database: pgDatabase(pool, { name }) }
}

export async function balances(pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ balance: number }>('SELECT balance FROM accounts ORDER BY id')
  return rows.map((row) => row.balance)
}

export async function entryIds(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM entries ORDER BY id')
  return rows.map((row) => row.id)
}

/**
 * A fresh MariaDB database for a tool's MySQL-dialect side, with a mysql2 pool on it that is ended
 * after the test; undefined when the machine has no MariaDB (the test then skips).
 */
export async function mariadbToolDatabase(
  servers: FileServers,
  t: { after(fn: () => unknown): void },
): Promise<{ url: string; pool: mysql.Pool } | undefined> {
  const mariadb = servers.mariadb
  if (mariadb === undefined) return undefined
  const url = await mariadb.createDatabase()
  const pool = mysql.createPool({ uri: url, connectionLimit: 4 })
  t.after(() => pool.end())
  return { url, pool }
}

/** The outbox option of the tool tests: one destination. */
export const TOOL_OUTBOX = { destinations: { events: { broker: 'rabbitmq' } } } as const

/** The bodies (JSON text) of the messages in a PostgreSQL database's outbox, in write order. */
export async function outboxBodies(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ body: Buffer }>(
    'SELECT body FROM txkit_outbox ORDER BY position',
  )
  return rows.map((row) => JSON.parse(row.body.toString('utf8')) as string)
}
