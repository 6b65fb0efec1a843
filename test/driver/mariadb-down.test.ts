/**
 * A coordinator starts while one of its MariaDB servers is down (issue 26): the mariadb connector's
 * pool keeps its settings private, so mariadbDatabase is told them (`identity`) rather than asking
 * the server. Down is a port nothing listens on; up is a relay on that port to the test server.
 */
import assert from 'node:assert/strict'
import { connect, createServer, type Server } from 'node:net'
import { test } from 'node:test'
import mariadb from 'mariadb'
import type mysql from 'mysql2/promise'
import { serversForFile } from '../../harness/file-servers.js'
import { createCoordinator, isTransactionRolledBackError } from '../../src/index.js'
import { mariadbDatabase } from '../../src/mysql/mariadb.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

const servers = serversForFile()
const { fixture } = servers

/** A port nothing listens on (for now). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** Relays `port` to the server on `target`: the server comes up on `port`. */
async function relay(port: number, target: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1')
    client.pipe(upstream)
    upstream.pipe(client)
    for (const socket of [client, upstream]) {
      socket.on('error', () => {
        client.destroy()
        upstream.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return server
}

async function myMarks(pool: mysql.Pool): Promise<string[]> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => String(row.tx))
}

test('with identity, mariadbDatabase wraps a down server: only its transactions fail, until it is up', async (t) => {
  const server = servers.mariadb
  if (server === undefined) return t.skip('no MariaDB')
  const mariadbUrl = await server.createDatabase()
  const { pool: direct } = await fixture.mysql(mariadbUrl, 'check')
  await direct.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
  const pgUrl = await servers.postgres.createDatabase()
  const { pool: pgPool } = fixture.pg(pgUrl, 'accounts')
  await pgPool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  const pgMarks = async () =>
    (await pgPool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')).rows.map((r) => r.tx)

  const parsed = new URL(mariadbUrl)
  const port = await freePort()
  const settings = {
    host: '127.0.0.1',
    port,
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)),
  }
  const pool = mariadb.createPool({
    ...settings,
    connectionLimit: 2,
    minimumIdle: 1,
    acquireTimeout: 3000,
  })
  let up: Server | undefined
  try {
    // Without identity the server must answer, and the error says what to pass instead.
    await assert.rejects(
      mariadbDatabase(pool, { name: 'ledger' }),
      (e: unknown) =>
        e instanceof Error && /"ledger"/.test(e.message) && /identity/.test(e.message),
    )
    const ledger = await mariadbDatabase(pool, { name: 'ledger', identity: settings })
    assert.equal(ledger.identity, `mysql://${settings.user}@127.0.0.1:${port}/${settings.database}`)
    const accounts = pgDatabase(pgPool, { name: 'accounts' })
    const coordinator = createCoordinator({ prefix: 'down', decisionLog: accounts })
    try {
      await coordinator.createDecisionLog()
      await coordinator.transaction({ accounts }, async ({ accounts }) => {
        await accounts.query("INSERT INTO marks VALUES ('alone')")
      })
      await assert.rejects(
        coordinator.transaction({ accounts, ledger }, async ({ accounts, ledger }) => {
          await accounts.query("INSERT INTO marks VALUES ('both-down')")
          await ledger.query("INSERT INTO marks VALUES ('both-down')")
        }),
        (e: unknown) => isTransactionRolledBackError(e) && /on "ledger"/.test(e.message),
      )
      assert.deepEqual(await pgMarks(), ['alone'], 'nothing of the failed transaction committed')

      up = await relay(port, Number(parsed.port))
      await coordinator.transaction({ accounts, ledger }, async ({ accounts, ledger }) => {
        await accounts.query("INSERT INTO marks VALUES ('both-up')")
        await ledger.query("INSERT INTO marks VALUES ('both-up')")
      })
      assert.deepEqual(await pgMarks(), ['alone', 'both-up'])
      assert.deepEqual(await myMarks(direct), ['both-up'])
      assert.equal(await ledger.flavour(), 'mariadb')
    } finally {
      await coordinator.close()
    }
  } finally {
    await pool.end()
    if (up !== undefined) {
      const closing = up
      await new Promise<void>((resolve) => closing.close(() => resolve()))
    }
  }
})

test('identity is the URL or the options given to createPool, never the password', async () => {
  const pool = mariadb.createPool({ host: '127.0.0.1', port: 1, connectionLimit: 1 })
  try {
    const fromUrl = await mariadbDatabase(pool, {
      name: 'a',
      identity: 'mariadb://app:secret@db1:3307/orders',
    })
    assert.equal(fromUrl.identity, 'mysql://app@db1:3307/orders')
    const defaults = await mariadbDatabase(pool, { name: 'b', identity: { user: 'app' } })
    assert.equal(defaults.identity, 'mysql://app@localhost:3306/')
    await assert.rejects(mariadbDatabase(pool, { name: 'c', identity: 'not a url' }), /identity/)
    await assert.rejects(
      mariadbDatabase(pool, { name: 'd', identity: { host: 'db1', port: 'x' } }),
      /identity\.port/,
    )
  } finally {
    await pool.end()
  }
})
