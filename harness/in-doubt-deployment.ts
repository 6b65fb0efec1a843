import assert from 'node:assert/strict'
import type { FileServers } from './file-servers.js'
import { runCrashCoordinator } from './run-crash-coordinator.js'

/** The CLI's `--driver` options naming the drivers under test. */
export const CLI_DRIVERS: readonly string[] = [
  '--driver',
  process.env.TXKIT_TEST_POSTGRES_DRIVER ?? 'node-postgres',
  '--driver',
  process.env.TXKIT_TEST_MYSQL_DRIVER ?? 'mysql2',
]

/** The passwords in `urls`, for asserting that no output shows them. */
export function passwordsOf(...urls: string[]): string[] {
  return urls.map((url) => decodeURIComponent(new URL(url).password)).filter((p) => p !== '')
}

/**
 * A transaction left in doubt across three databases: `a` (PostgreSQL, the decision log), `b`
 * (PostgreSQL) and `m` (MariaDB), each of b and m holding an `accounts` row of 100 that the
 * transaction moved 10 of. Its coordinator is killed just before or after its decision, so b and
 * m stay prepared (and a holds its 'C' row when after). Undefined without MariaDB.
 */
export async function inDoubtAcrossThree(
  servers: FileServers,
  options: { readonly prefix: string; readonly marker: string; readonly when: 'before' | 'after' },
) {
  const { fixture } = servers
  const mariadb = servers.mariadb
  if (mariadb === undefined) return undefined
  const a = await fixture.markedPg(servers.postgres, 'a')
  const b = await fixture.markedPg(servers.postgres, 'b')
  await b.pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)')
  await b.pool.query('INSERT INTO accounts VALUES (1, 100)')
  const mUrl = await mariadb.createDatabase()
  const m = await fixture.mysql(mUrl, 'm')
  await m.pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)')
  await m.pool.query('INSERT INTO accounts VALUES (1, 100)')
  await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
  const run = await runCrashCoordinator({
    databases: [
      { name: 'a', kind: 'postgres', url: a.url },
      { name: 'b', kind: 'postgres', url: b.url },
      { name: 'm', kind: 'mariadb', url: mUrl },
    ],
    decisionLog: 'a',
    protocol: 'decision',
    prefix: options.prefix,
    marker: options.marker,
    statements: {
      b: [{ sql: 'UPDATE accounts SET balance = balance - 10 WHERE id = 1' }],
      m: [{ sql: 'UPDATE accounts SET balance = balance + 10 WHERE id = 1' }],
    },
    killAt: { step: 'decision', when: options.when },
  })
  assert.equal(run.signal, 'SIGKILL', run.output)
  const { rows } = await b.pool.query<{ gid: string }>(
    'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
  )
  const gid = rows[0]?.gid ?? assert.fail('no prepared branch on b')
  return { a, b, m, mUrl, gid, gtrid: gid.replace(/\.\d+\.\d+$/, '') }
}
