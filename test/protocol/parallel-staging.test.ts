/**
 * The parallel protocol's staging connection (to the decision database) is taken at `begin()` and
 * sends nothing until the commit. Its session dying in between must never be written to, never
 * reach whoever the driver hands that connection to next, never go back to the pool, and must be
 * reported as what it is: nothing was sent, so the transaction is rolled back. Asserted on the
 * rows of every database, prepared transactions, the error the caller got, and the process (no
 * uncaught exception, no unhandled rejection), with the driver under test (both passes).
 */
import assert from 'node:assert/strict'
import { afterEach, beforeEach, describe, test } from 'node:test'
import pg from 'pg'
import postgres from 'postgres'
import { postgresDriver } from '../../harness/drivers.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import { waitFor } from '../../harness/wait-for.js'
import type { Database } from '../../src/database/database.js'
import type { DriverConnection } from '../../src/driver/driver-connection.js'
import {
  type CoordinatorOptions,
  isOutcomeUnknownError,
  isTransactionRolledBackError,
  recover,
} from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'
import { postgresJsDatabase } from '../../src/postgres/postgres-js.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

/** The application name of the sessions of the driver under test, to find them on the server. */
const UNDER_TEST = 'txkit-staging-test'

/** Uncaught exceptions and unhandled rejections while a test runs: each one fails it. */
const escaped: unknown[] = []
process.on('uncaughtExceptionMonitor', (error) => escaped.push(error))
process.on('unhandledRejection', (error) => escaped.push(error))
beforeEach(() => {
  escaped.length = 0
})
afterEach(async () => {
  // A write to a closed socket fails in a setImmediate of the driver: give it its turns.
  for (let turn = 0; turn < 10; turn++) await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(escaped.map(String), [], 'no uncaught exception or unhandled rejection')
})

/** A session of the application's own, on the pool txkit uses (`sql.reserve()`, `pool.connect()`). */
interface AppSession {
  query(text: string): Promise<Array<Record<string, unknown>>>
  release(): void
}

/**
 * `url` through the driver under test, `max` connections, its sessions named {@link UNDER_TEST};
 * `heardClosed()` counts the sessions the driver has seen close.
 */
function underTest(url: string, name: string, max: number) {
  const connections: DriverConnection[] = []
  let db: Database
  let heardClosed: () => number
  let app: () => Promise<AppSession>
  let plain: () => Promise<unknown>
  let close: () => Promise<void>
  if (postgresDriver === 'postgres-js') {
    let closes = 0
    const sql = postgres(url, {
      max,
      onnotice: () => {},
      onclose: () => {
        closes++
      },
      connection: { application_name: UNDER_TEST },
    })
    db = postgresJsDatabase(sql, { name })
    heardClosed = () => closes
    app = async () => {
      const reserved = await sql.reserve()
      return {
        query: async (text) => [...(await reserved.unsafe(text))],
        release: () => reserved.release(),
      }
    }
    plain = () => sql`SELECT 1 AS one`.then((rows) => [...rows])
    close = () => sql.end({ timeout: 1 })
  } else {
    const pool = new pg.Pool({ connectionString: url, max, application_name: UNDER_TEST })
    pool.on('error', () => {})
    db = pgDatabase(pool, { name })
    heardClosed = () => connections.filter((connection) => connection.lost).length
    app = async () => {
      const client = await pool.connect()
      return {
        query: async (text) => (await client.query(text)).rows,
        release: () => client.release(),
      }
    }
    plain = () => pool.query('SELECT 1 AS one').then((result) => result.rows)
    close = () => pool.end()
  }
  const acquire = db.acquire.bind(db)
  db = Object.assign(db, {
    async acquire() {
      const connection = await acquire()
      connections.push(connection)
      return connection
    },
  })
  return { db, heardClosed: () => heardClosed(), app: () => app(), plain: () => plain(), close }
}

/**
 * Databases `a` (holding the decision log, and a branch) and `b`, reached through the driver under
 * test with `max` connections each, and through the test's own node-postgres pools; `recovery`
 * reads them through those pools, never through the pools under test.
 */
async function twoDatabases(max: number, options: Partial<CoordinatorOptions> = {}) {
  const [urlA, urlB] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
  const own = [urlA, urlB].map((url) => {
    const pool = new pg.Pool({ connectionString: url, max: 4 })
    pool.on('error', () => {})
    return pool
  })
  const [ownA, ownB] = own as [pg.Pool, pg.Pool]
  const a = underTest(urlA ?? '', 'a', max)
  const b = underTest(urlB ?? '', 'b', max)
  for (const pool of own) await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  const coordinator = fixture.coordinator({ decisionLog: a.db, protocol: 'parallel', ...options })
  await coordinator.createDecisionLog()
  for (const { db } of [a, b]) await coordinator.createFenceTable(db)
  const recoveryA = pgDatabase(ownA, { name: 'a' })
  const recoveryB = pgDatabase(ownB, { name: 'b' })
  const recovery = () =>
    recover({ databases: [recoveryA, recoveryB], decisionLog: recoveryA, minAge: 0 })
  const close = async () => {
    await coordinator.close()
    await Promise.all([a.close(), b.close()])
    await Promise.all(own.map((pool) => pool.end()))
  }
  return { a, b, ownA, ownB, coordinator, recovery, close }
}

/**
 * Terminates every session of the driver under test on `own`'s database but the branch's
 * (`branchPid`): the transaction's staging connection, taken at begin and idle since.
 */
async function terminateStaging(own: pg.Pool, branchPid: number): Promise<void> {
  const { rows } = await own.query<{ pid: number }>(
    `SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = current_database() AND application_name = $1 AND pid <> $2`,
    [UNDER_TEST, branchPid],
  )
  assert.ok(rows.length >= 1, 'the staging session was found')
}

async function decisionRows(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ outcome: string }>('SELECT outcome FROM txkit_decision')
  return rows.map((row) => row.outcome)
}

/** What the caller was told, in words; never waits forever (a hang fails as such). */
function told(commit: Promise<unknown>): Promise<string> {
  return answer(commit, 'committed')
}

/** `settled`'s answer in words (`resolved` when it resolved), or that none came within 60 s. */
async function answer(settled: Promise<unknown>, resolved: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve('no answer within 60 s'), 60_000)
  })
  try {
    return await Promise.race([
      settled.then(
        () => resolved,
        (error: unknown) =>
          isTransactionRolledBackError(error)
            ? 'rolled back'
            : isOutcomeUnknownError(error)
              ? `outcome unknown: ${(error as Error).message}`
              : `other error: ${String(error)}`,
      ),
      hung,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Opens a transaction with a mark on `a` and `b`; answers the branch of `a`'s backend pid. */
async function begun(setup: Awaited<ReturnType<typeof twoDatabases>>, mark: string) {
  const tx = await setup.coordinator.begin({ a: setup.a.db, b: setup.b.db })
  await tx.branches.a.query('INSERT INTO marks (tx) VALUES ($1)', [mark])
  await tx.branches.b.query('INSERT INTO marks (tx) VALUES ($1)', [mark])
  const rows = await tx.branches.a.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  return { tx, branchPid: Number(rows[0]?.pid) }
}

describe('parallel protocol: a staging session that dies before the commit', () => {
  test('terminated between begin and commit: nothing is sent on it, the transaction is rolled back everywhere', async () => {
    const setup = await twoDatabases(2)
    try {
      const { tx, branchPid } = await begun(setup, 's1')
      await terminateStaging(setup.ownA, branchPid)
      await waitFor('the driver to hear the staging session close', 10_000, async () =>
        Promise.resolve(setup.a.heardClosed() >= 1),
      )
      const outcome = await told(tx.commit())
      assert.deepEqual(
        {
          outcome,
          a: await pgMarks(setup.ownA),
          b: await pgMarks(setup.ownB),
          prepared: [...(await pgPrepared(setup.ownA)), ...(await pgPrepared(setup.ownB))],
          decisions: await decisionRows(setup.ownA),
        },
        { outcome: 'rolled back', a: [], b: [], prepared: [], decisions: [] },
      )
      // The pool under test still serves, on a fresh session.
      assert.deepEqual(await setup.a.plain(), [{ one: 1 }])
    } finally {
      await setup.close()
    }
  })

  test("an open transaction (the manager's way) takes it with its first join: the same, rolled back everywhere", async () => {
    const setup = await twoDatabases(2)
    try {
      const tx = await setup.coordinator.begin()
      const onA = await tx.join('a', setup.a.db)
      await onA.query('INSERT INTO marks (tx) VALUES ($1)', ['s4'])
      await (await tx.join('b', setup.b.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['s4'])
      const [row] = await onA.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      await terminateStaging(setup.ownA, Number(row?.pid))
      await waitFor('the driver to hear the staging session close', 10_000, async () =>
        Promise.resolve(setup.a.heardClosed() >= 1),
      )
      const outcome = await told(tx.commit())
      assert.deepEqual(
        {
          outcome,
          a: await pgMarks(setup.ownA),
          b: await pgMarks(setup.ownB),
          prepared: [...(await pgPrepared(setup.ownA)), ...(await pgPrepared(setup.ownB))],
          decisions: await decisionRows(setup.ownA),
        },
        { outcome: 'rolled back', a: [], b: [], prepared: [], decisions: [] },
      )
      assert.deepEqual(await setup.a.plain(), [{ one: 1 }])
    } finally {
      await setup.close()
    }
  })

  test("its connection handed to the application's own reserve(): txkit's rows never land in the application's transaction", async () => {
    let open: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    // Acknowledged at the decision, the branches' commit held: the window in which an
    // acknowledged transaction whose staged row is lost would be rolled back by recovery.
    // node-postgres never hands out a checked-out client: its pool needs a third connection.
    const setup = await twoDatabases(postgresDriver === 'postgres-js' ? 2 : 3, {
      acknowledge: 'decision',
      onStep: async (event) => {
        if (event.step === 'commit' && event.when === 'before') await gate
      },
    })
    try {
      const { tx, branchPid } = await begun(setup, 's2')
      await terminateStaging(setup.ownA, branchPid)
      await waitFor('the driver to hear the staging session close', 10_000, async () =>
        Promise.resolve(setup.a.heardClosed() >= 1),
      )
      // The application's own transaction on the same pool: postgres.js reconnects the closed
      // connection for it.
      const app = await setup.a.app()
      await app.query('BEGIN')
      await app.query("INSERT INTO marks (tx) VALUES ('app')")
      const committing = tx.commit()
      const outcome = await told(committing)
      const seenByApp = await app.query('SELECT outcome FROM txkit_decision')
      await app.query('ROLLBACK')
      app.release()
      // A recovery round, then the background commit (if any) is let go and finishes.
      const report = await setup.recovery()
      open()
      const result = await committing.catch(() => undefined)
      await result?.completion
      assert.deepEqual(
        {
          outcome,
          seenByApp,
          a: await pgMarks(setup.ownA),
          b: await pgMarks(setup.ownB),
          prepared: [...(await pgPrepared(setup.ownA)), ...(await pgPrepared(setup.ownB))],
          recovered: report.transactions.map((transaction) => transaction.action),
        },
        { outcome: 'rolled back', seenByApp: [], a: [], b: [], prepared: [], recovered: [] },
      )
    } finally {
      open()
      await setup.close()
    }
  })

  test('its connection given back after a rollback: the pool stays sound, its next plain queries answer', async () => {
    const setup = await twoDatabases(2)
    try {
      const { tx, branchPid } = await begun(setup, 's3')
      await terminateStaging(setup.ownA, branchPid)
      await waitFor('the driver to hear the staging session close', 10_000, async () =>
        Promise.resolve(setup.a.heardClosed() >= 1),
      )
      await tx.rollback()
      // As many plain queries as the pool has connections: one of them gets the staging one.
      const answers = await answer(
        Promise.all([setup.a.plain(), setup.a.plain(), setup.a.plain()]),
        'answered',
      )
      assert.equal(answers, 'answered')
      assert.deepEqual(
        {
          a: await pgMarks(setup.ownA),
          b: await pgMarks(setup.ownB),
          prepared: [...(await pgPrepared(setup.ownA)), ...(await pgPrepared(setup.ownB))],
        },
        { a: [], b: [], prepared: [] },
      )
    } finally {
      await setup.close()
    }
  })
})

describe('parallel protocol: the staged row checks its session in its own statement', () => {
  test('sent in another session than the one named, it writes nothing and says why; in that one, it goes in', async () => {
    const url = await servers.postgres.createDatabase()
    const own = new pg.Pool({ connectionString: url, max: 2 })
    own.on('error', () => {})
    const a = underTest(url, 'a', 2)
    try {
      const coordinator = fixture.coordinator({ decisionLog: a.db, protocol: 'parallel' })
      await coordinator.createDecisionLog()
      const log = coordinator.decisionLog
      assert.ok(log !== undefined)
      const connection = await a.db.acquire()
      try {
        const [row] = (await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
          .rows
        const pid = Number(row?.pid)
        const deadline = Date.now() + 60_000
        // What a statement sent on a connection that changed hands meets: another backend.
        const refused = await log
          .insertIn(connection, 'txkit.guard1', '[]', deadline, 'S', pid + 1)
          .catch((error: unknown) => error)
        assert.match(String(refused), /not written.*changed hands/)
        assert.deepEqual(await decisionRows(own), [])
        assert.equal(
          await log.insertIn(connection, 'txkit.guard2', '[]', deadline, 'S', pid),
          'inserted',
        )
        assert.deepEqual(await decisionRows(own), ['S'])
      } finally {
        connection.release(true)
      }
    } finally {
      await a.close()
      await own.end()
    }
  })
})
