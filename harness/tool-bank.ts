/**
 * The bank the integration tests (Kysely, Drizzle, Knex, TypeORM, Prisma) write through their
 * tools: a PostgreSQL database with accounts (1: 100, 2: 0) and an `entries` table, and the reads
 * that assert on its rows.
 */
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
