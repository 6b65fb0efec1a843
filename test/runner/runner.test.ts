import assert from 'node:assert/strict'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import Sqlite from 'better-sqlite3'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import { CuttingProxy } from '../../harness/cutting-proxy.js'
import { sqlOf } from '../../harness/drivers.js'
import { serversForFile } from '../../harness/file-servers.js'
import type { TestServer } from '../../harness/test-databases.js'
import {
  createRunner,
  type Database,
  isCommitOutcomeUnknownError,
  isConfigurationError,
  isRetryTransactionError,
  isRunAbortedError,
  type Logger,
} from '../../src/index.js'
import { mysqlSession } from '../../src/mysql/mysql2.js'
import { pgSession } from '../../src/postgres/node-postgres.js'
import { sqliteSession } from '../../src/sqlite/better-sqlite3.js'
import { sleep } from '../../src/util/sleep.js'

const servers = serversForFile()
const { fixture } = servers

interface LogRecord {
  readonly level: 'info' | 'warn' | 'error'
  readonly fields: Record<string, unknown>
  readonly message: string
}

function recordingLogger(): Logger & { records: LogRecord[] } {
  const records: LogRecord[] = []
  const keep = (level: LogRecord['level']) => (fields: object, message: string) =>
    records.push({ level, fields: fields as Record<string, unknown>, message })
  return { records, info: keep('info'), warn: keep('warn'), error: keep('error') }
}

/** A PostgreSQL database for the runner: `db` through the driver under test, `pool` to check. */
async function pgPool(): Promise<{ pool: pg.Pool; db: Database }> {
  const { pool, db } = fixture.pg(await servers.postgres.createDatabase(), 'runner')
  await pool.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)')
  await pool.query('INSERT INTO items VALUES (1, 0), (2, 0)')
  await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  return { pool, db }
}

/** The current settings of two sessions of `db` checked out together (so: distinct sessions). */
async function sessionSettings(db: Database, sql: string): Promise<Record<string, unknown>[]> {
  const sessions = await Promise.all([db.acquire(), db.acquire()])
  try {
    return await Promise.all(
      sessions.map(
        async (session) => (await session.query<Record<string, unknown>>(sql)).rows[0] ?? {},
      ),
    )
  } finally {
    for (const session of sessions) session.release(false)
  }
}

async function mariaPool(server: TestServer) {
  const { pool, db } = await fixture.mysql(await server.createDatabase(), 'm')
  await pool.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL) ENGINE=InnoDB')
  await pool.query('INSERT INTO items VALUES (1, 0), (2, 0)')
  await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
  return { pool, db }
}

async function pgMarks(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => row.tx)
}

async function mariaMarks(pool: mysql.Pool): Promise<string[]> {
  const [rows] = await pool.query('SELECT tx FROM marks ORDER BY tx')
  return (rows as Array<{ tx: string }>).map((row) => row.tx)
}

const elapsedSince = (started: number) => performance.now() - started

describe('runner: PostgreSQL', () => {
  test('a deadlock inside two outer transactions: the victim is retried in its savepoint, outer work intact', async () => {
    const { pool } = await pgPool()
    const logger = recordingLogger()
    const runner = createRunner({ initialDelay: 10, logger })
    const a = await pool.connect()
    const b = await pool.connect()
    try {
      for (const client of [a, b]) {
        await client.query("SET deadlock_timeout = '100ms'")
        await client.query('BEGIN')
      }
      await a.query("INSERT INTO marks VALUES ('outer-a')")
      await b.query("INSERT INTO marks VALUES ('outer-b')")
      const attempts = { a: 0, b: 0 }
      const step = (client: pg.PoolClient, first: number, second: number, who: 'a' | 'b') =>
        runner.run(
          pgSession(client),
          async (session, { attempt }) => {
            attempts[who] = attempt
            await session.query('UPDATE items SET v = v + 1 WHERE id = $1', [first])
            await sleep(150)
            await session.query('UPDATE items SET v = v + 10 WHERE id = $1', [second])
          },
          { name: `step-${who}` },
        )
      const runA = step(a, 1, 2, 'a')
      await sleep(20)
      const runB = step(b, 2, 1, 'b')
      // The survivor's step returns; the victim's retry then waits for the survivor's commit.
      const first = await Promise.race([runA.then(() => 'a'), runB.then(() => 'b')])
      await (first === 'a' ? a : b).query('COMMIT')
      await (first === 'a' ? runB : runA)
      await (first === 'a' ? b : a).query('COMMIT')
      assert.equal(Math.max(attempts.a, attempts.b), 2, 'the victim ran twice')
      assert.equal(Math.min(attempts.a, attempts.b), 1)
      assert.deepEqual(await pgMarks(pool), ['outer-a', 'outer-b'])
      const { rows } = await pool.query('SELECT v FROM items ORDER BY id')
      assert.deepEqual(
        rows.map((row) => row.v),
        [11, 11],
        'each step applied once',
      )
      const warning = logger.records.find((record) => record.level === 'warn')
      assert.equal(warning?.fields.code, '40P01')
      assert.equal(warning?.fields.transient, true)
      assert.equal(warning?.fields.database, 'PostgreSQL')
      assert.equal(typeof warning?.fields.delayMs, 'number')
      const done = logger.records.filter((record) => record.level === 'info')
      assert.deepEqual(done.map((record) => record.fields.attempt).sort(), [1, 2])
    } finally {
      a.release(true)
      b.release(true)
    }
  })

  test('a 250 ms lock timeout is honoured (not 0, not the default), and settings come back', async () => {
    const { pool, db } = fixture.pg(await servers.postgres.createDatabase(), 'one')
    await pool.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)')
    await pool.query('INSERT INTO items VALUES (1, 0)')
    const holder = await pool.connect()
    await holder.query('BEGIN')
    await holder.query('UPDATE items SET v = 1 WHERE id = 1')
    const runner = createRunner({ maxRetries: 0 })
    try {
      const started = performance.now()
      await assert.rejects(
        runner.run(db, (session) => sqlOf(session)('UPDATE items SET v = 2 WHERE id = 1'), {
          lockTimeout: 250,
        }),
        (e: unknown) => (e as { code?: string }).code === '55P03',
      )
      const waited = elapsedSince(started)
      assert.ok(waited >= 240 && waited < 1500, `waited ${waited.toFixed(0)} ms`)
      // Inside a transaction: the bound applies to the operation only.
      await runner
        .run(
          pgSession(holder),
          async (client) => {
            const { rows } = await client.query('SHOW lock_timeout')
            assert.equal(rows[0].lock_timeout, '250ms')
          },
          { lockTimeout: 250 },
        )
        .catch((error: unknown) => assert.fail(String(error)))
      const { rows } = await holder.query('SHOW lock_timeout')
      assert.equal(rows[0].lock_timeout, '0', 'the outer transaction has its own setting back')
    } finally {
      await holder.query('ROLLBACK')
      holder.release()
    }
  })

  test('a statement timeout cancels pg_sleep; the pooled session keeps no setting', async () => {
    const single = fixture.pg(await servers.postgres.createDatabase(), 'single')
    const runner = createRunner({ maxRetries: 0 })
    const started = performance.now()
    await assert.rejects(
      runner.run(single.db, (session) => sqlOf(session)('SELECT pg_sleep(5)'), {
        statementTimeout: 200,
        lockTimeout: 300,
      }),
      (e: unknown) => (e as { code?: string }).code === '57014',
    )
    assert.ok(elapsedSince(started) < 2000)
    // Every session of the driver's pool: nothing leaked.
    const settings = await sessionSettings(
      single.db,
      "SELECT current_setting('statement_timeout') AS s, current_setting('lock_timeout') AS l, current_setting('transaction_read_only') AS r",
    )
    for (const row of settings) assert.deepEqual({ ...row }, { s: '0', l: '0', r: 'off' })
  })

  test('standalone runs commit; read-only rejects a write and is not retried', async () => {
    const { pool, db } = await pgPool()
    let calls = 0
    const runner = createRunner()
    await runner.run(db, (session) => sqlOf(session)("INSERT INTO marks VALUES ('standalone')"))
    assert.deepEqual(await pgMarks(pool), ['standalone'])
    await assert.rejects(
      runner.run(
        db,
        (session) => {
          calls++
          return sqlOf(session)("INSERT INTO marks VALUES ('read-only')")
        },
        { readOnly: true },
      ),
      (e: unknown) => (e as { code?: string }).code === '25006',
    )
    assert.equal(calls, 1)
    // Inside a transaction, read-only covers the operation and not the rest of the transaction.
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      await assert.rejects(
        runner.run(
          pgSession(client),
          (session) => session.query("INSERT INTO marks VALUES ('ro-inside')"),
          {
            readOnly: true,
          },
        ),
        (e: unknown) => (e as { code?: string }).code === '25006',
      )
      const count = await runner.run(
        pgSession(client),
        async (session) => (await session.query('SELECT count(*)::int AS n FROM marks')).rows[0].n,
        { readOnly: true },
      )
      assert.equal(count, 1)
      await client.query("INSERT INTO marks VALUES ('after-read-only')")
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    assert.deepEqual(await pgMarks(pool), ['after-read-only', 'standalone'])
  })

  test('a permanent error is not retried; an abort stops the backoff', async () => {
    const { db } = await pgPool()
    const logger = recordingLogger()
    const runner = createRunner({ initialDelay: 5_000, maxDelay: 5_000, logger })
    let calls = 0
    await assert.rejects(
      runner.run(db, (session) => {
        calls++
        return sqlOf(session)('SELEC 1')
      }),
      (e: unknown) => (e as { code?: string }).code === '42601',
    )
    assert.equal(calls, 1)
    assert.equal(logger.records.at(-1)?.level, 'error')
    assert.equal(logger.records.at(-1)?.fields.transient, false)

    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('shutdown')), 150)
    const started = performance.now()
    calls = 0
    // Full jitter may draw a delay near 0, which would let a second attempt start before the
    // abort: draw near the ceiling, so the abort surely lands in a ~5 s backoff.
    const random = Math.random
    Math.random = () => 0.99
    try {
      await assert.rejects(
        runner.run(
          db,
          () => {
            calls++
            throw Object.assign(new Error('could not serialize access'), { code: '40001' })
          },
          { signal: controller.signal },
        ),
        (e: unknown) =>
          isRunAbortedError(e) &&
          (e.cause as Error).message === 'shutdown' &&
          (e.lastError as { code?: string }).code === '40001',
      )
    } finally {
      Math.random = random
    }
    assert.ok(elapsedSince(started) < 1500, 'the backoff was cut short')
    assert.equal(calls, 1)
  })

  test('a killed session: standalone retries on a fresh one; inside a transaction it asks for a rerun', async () => {
    const { pool, db } = await pgPool()
    const runner = createRunner({ initialDelay: 1 })
    const attempts: number[] = []
    await runner.run(db, async (session, { attempt }) => {
      attempts.push(attempt)
      await sqlOf(session)('INSERT INTO marks VALUES ($1)', [`attempt-${attempt}`])
      if (attempt === 1) await sqlOf(session)('SELECT pg_terminate_backend(pg_backend_pid())')
    })
    assert.deepEqual(attempts, [1, 2])
    assert.deepEqual(await pgMarks(pool), ['attempt-2'], 'the killed attempt left nothing')
    const client = await pool.connect()
    client.on('error', () => {})
    try {
      await client.query('BEGIN')
      await client.query("INSERT INTO marks VALUES ('outer')")
      await assert.rejects(
        runner.run(pgSession(client), (session) =>
          session.query('SELECT pg_terminate_backend(pg_backend_pid())'),
        ),
        (e: unknown) => isRetryTransactionError(e),
      )
    } finally {
      client.release(true)
    }
    assert.deepEqual(await pgMarks(pool), ['attempt-2'])
  })

  test('a COMMIT cut off mid-flight is never retried: it did commit', async () => {
    const url = new URL(await servers.postgres.createDatabase())
    const direct = fixture.pg(url.toString(), 'direct').pool
    await direct.query('CREATE TABLE marks (tx text PRIMARY KEY)')
    const proxy = await CuttingProxy.start(Number(url.port))
    try {
      url.port = String(proxy.port)
      url.hostname = '127.0.0.1'
      const viaProxy = fixture.pg(url.toString(), 'proxied').db
      let calls = 0
      proxy.cutAfter('COMMIT')
      await assert.rejects(
        createRunner({ initialDelay: 1 }).run(viaProxy, (session) => {
          calls++
          return sqlOf(session)("INSERT INTO marks VALUES ('once')")
        }),
        (e: unknown) => isCommitOutcomeUnknownError(e),
      )
      assert.equal(calls, 1)
      await sleep(200)
      assert.deepEqual(await pgMarks(direct), ['once'], 'a retry would have written it twice')
    } finally {
      await proxy.stop()
    }
  })
})

describe('runner: MariaDB', () => {
  test('a deadlock undid the whole transaction: RetryTransactionError, nothing partial, manager.retry reruns it', async (t) => {
    if (servers.mariadb === undefined) return t.skip('no MariaDB')
    const { pool } = await mariaPool(servers.mariadb)
    const runner = createRunner({ initialDelay: 1 })
    const a = await pool.getConnection()
    const b = await pool.getConnection()
    try {
      await a.query('START TRANSACTION')
      await b.query('START TRANSACTION')
      await a.query("INSERT INTO marks VALUES ('outer-a')")
      await b.query("INSERT INTO marks VALUES ('outer-b')")
      const step = (connection: mysql.PoolConnection, first: number, second: number) =>
        runner.run(mysqlSession(connection), async (session) => {
          await session.query('UPDATE items SET v = v + 1 WHERE id = ?', [first])
          await sleep(150)
          await session.query('UPDATE items SET v = v + 10 WHERE id = ?', [second])
        })
      const results = await Promise.allSettled([step(a, 1, 2), step(b, 2, 1)])
      const failed = results.findIndex((result) => result.status === 'rejected')
      assert.notEqual(failed, -1, 'one was the deadlock victim')
      const reason = (results[failed] as PromiseRejectedResult).reason
      assert.ok(isRetryTransactionError(reason), String(reason))
      assert.equal((reason.cause as { errno?: number }).errno, 1213)
      // The application commits both, as a careless caller would: the victim's earlier work is
      // not committed partially (the server had rolled the whole transaction back).
      await a.query('COMMIT')
      await b.query('COMMIT')
      const survivor = failed === 0 ? 'outer-b' : 'outer-a'
      assert.deepEqual(await mariaMarks(pool), [survivor])
    } finally {
      a.release()
      b.release()
    }
  })

  test('manager.retry understands RetryTransactionError and reruns the whole transaction', async (t) => {
    if (servers.mariadb === undefined) return t.skip('no MariaDB')
    const { pool, db } = await mariaPool(servers.mariadb)
    const decision = await fixture.markedPg(servers.postgres, 'decisions')
    const manager = await fixture.manager({ decisionLog: decision.db })
    const runner = createRunner()
    let transactions = 0
    let injected = false
    await manager.retry(async (tx) => {
      transactions++
      const ledger = await tx.join('m', db)
      await ledger.query('INSERT INTO marks VALUES (?)', [`tx-${transactions}`])
      await runner.run(ledger, async () => {
        if (!injected) {
          injected = true
          throw Object.assign(new Error('Deadlock found'), { errno: 1213 })
        }
      })
    })
    assert.equal(transactions, 2)
    assert.deepEqual(await mariaMarks(pool), ['tx-2'])
  })

  test('lock wait and statement timeouts, read-only, and settings put back on the pooled session', async (t) => {
    if (servers.mariadb === undefined) return t.skip('no MariaDB')
    const { pool, db } = await mariaPool(servers.mariadb)
    const runner = createRunner({ maxRetries: 0 })
    const holder = await pool.getConnection()
    await holder.query('START TRANSACTION')
    await holder.query('UPDATE items SET v = 1 WHERE id = 1')
    try {
      const started = performance.now()
      await assert.rejects(
        runner.run(db, (session) => sqlOf(session)('UPDATE items SET v = 2 WHERE id = 1'), {
          lockTimeout: 250,
        }),
        (e: unknown) => (e as { errno?: number }).errno === 1205,
      )
      const waited = elapsedSince(started)
      // innodb_lock_wait_timeout is whole seconds: 250 ms waits 1 s, never 0, never the 50 s default.
      assert.ok(waited >= 900 && waited < 5000, `waited ${waited.toFixed(0)} ms`)
    } finally {
      await holder.query('ROLLBACK')
      holder.release()
    }
    const started = performance.now()
    await assert.rejects(
      runner.run(db, (session) => sqlOf(session)('SELECT SLEEP(5)'), {
        statementTimeout: 200,
      }),
      (e: unknown) => (e as { errno?: number }).errno === 1969,
    )
    assert.ok(elapsedSince(started) < 2000)
    await assert.rejects(
      runner.run(db, (session) => sqlOf(session)("INSERT INTO marks VALUES ('ro')"), {
        readOnly: true,
      }),
      (e: unknown) => (e as { errno?: number }).errno === 1792,
    )
    const inside = await pool.getConnection()
    try {
      await inside.query('START TRANSACTION')
      await assert.rejects(
        runner.run(mysqlSession(inside), async () => 'read', { readOnly: true }),
        (e: unknown) =>
          isConfigurationError(e) && /cannot make part of a transaction read-only/.test(e.message),
      )
      await runner.run(mysqlSession(inside), async () => 'bounded', {
        lockTimeout: 1500,
        statementTimeout: 300,
      })
      const [variables] = await inside.query(
        'SELECT @@SESSION.innodb_lock_wait_timeout AS lw, @@SESSION.max_statement_time AS st',
      )
      const row = (variables as Array<Record<string, unknown>>)[0]
      assert.deepEqual(
        [Number(row?.lw), Number(row?.st)],
        [50, 0],
        'put back inside the transaction',
      )
      await inside.query('ROLLBACK')
    } finally {
      inside.release()
    }
    // Every session of the driver's pool has the server's defaults back.
    const settings = await sessionSettings(
      db,
      'SELECT @@SESSION.innodb_lock_wait_timeout AS lw, @@SESSION.max_statement_time AS st, @@SESSION.tx_read_only AS ro',
    )
    for (const row of settings) {
      assert.deepEqual([Number(row.lw), Number(row.st), Number(row.ro)], [50, 0, 0])
    }
  })
})

function sqliteMarks(database: Sqlite.Database): string[] {
  return database
    .prepare('SELECT tx FROM marks ORDER BY tx')
    .all()
    .map((row) => (row as { tx: string }).tx)
}

describe('runner: SQLite', () => {
  test('inside a transaction: a failed attempt is rolled back to its savepoint, the outer work stays', async () => {
    const database = new Sqlite(':memory:')
    try {
      database.exec('CREATE TABLE marks (tx text PRIMARY KEY)')
      database.exec('BEGIN')
      database.prepare("INSERT INTO marks VALUES ('outer')").run()
      await createRunner({ initialDelay: 1 }).run(sqliteSession(database), (db, { attempt }) => {
        db.prepare('INSERT INTO marks VALUES (?)').run(`attempt-${attempt}`)
        if (attempt === 1)
          throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' })
      })
      database.exec('COMMIT')
      assert.deepEqual(sqliteMarks(database), ['attempt-2', 'outer'])
    } finally {
      database.close()
    }
  })

  test('"database is locked" is retried until the other writer commits', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'txkit-sqlite-')), 'app.db')
    const writer = new Sqlite(file)
    const other = new Sqlite(file)
    try {
      writer.exec('CREATE TABLE marks (tx text PRIMARY KEY)')
      writer.exec('BEGIN IMMEDIATE')
      writer.prepare("INSERT INTO marks VALUES ('first')").run()
      setTimeout(() => writer.exec('COMMIT'), 300)
      const logger = recordingLogger()
      const runner = createRunner({ initialDelay: 100, maxDelay: 200, maxRetries: 10, logger })
      const session = sqliteSession(other)
      await runner.run(
        session,
        (database) => database.prepare("INSERT INTO marks VALUES ('second')").run(),
        { lockTimeout: 20 },
      )
      const retries = logger.records.filter((record) => record.level === 'warn')
      assert.ok(retries.length >= 1, 'at least one SQLITE_BUSY was retried')
      assert.equal(retries[0]?.fields.code, 'SQLITE_BUSY')
      assert.deepEqual(sqliteMarks(other), ['first', 'second'])
      assert.equal(other.pragma('busy_timeout', { simple: true }), 5000, 'busy timeout put back')
      await assert.rejects(
        runner.run(session, () => 1, { statementTimeout: 100 }),
        (e: unknown) =>
          isConfigurationError(e) && /SQLite has no statement timeout/.test(e.message),
      )
      await assert.rejects(
        runner.run(
          session,
          (database) => database.prepare("INSERT INTO marks VALUES ('ro')").run(),
          {
            readOnly: true,
          },
        ),
        (e: unknown) => (e as { code?: string }).code === 'SQLITE_READONLY',
      )
    } finally {
      writer.close()
      other.close()
    }
  })
})
