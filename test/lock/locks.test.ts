import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { CuttingProxy } from '../../harness/cutting-proxy.js'
import { mysqlDriver, openMysql, openPostgres } from '../../harness/drivers.js'
import {
  startPostgres,
  stopTestServers,
  testMariadb,
  testPostgres,
} from '../../harness/test-databases.js'
import { waitFor } from '../../harness/wait-for.js'
import { withConnection } from '../../src/database/with-connection.js'
import {
  createLock,
  type Database,
  type DatabaseLock,
  isConfigurationError,
  isLockLostError,
  isLockReentryError,
  isLockStateError,
  isLockTimeoutError,
  isLockWaitAbortedError,
  type LockLostError,
  lockIdentifier,
  withLock,
} from '../../src/index.js'
import { sleep } from '../../src/util/sleep.js'

/** One database under test, with what the tests need to do to it from outside. */
interface Target {
  readonly name: 'PostgreSQL' | 'MariaDB'
  /** A txkit database over a pool of at most `max` sessions, opened with the driver under test. */
  pool(max?: number): Promise<Database>
  /** Runs a statement on a session of `pool` (the driver under test's, given back after). */
  query(pool: Database, sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
  /** The server's id of the lock's session. */
  sessionId(lock: DatabaseLock): Promise<number>
  /** Ends a session from another one (pg_terminate_backend, KILL). */
  kill(pool: Database, id: number): Promise<void>
  /** Whether some session holds `key`, asked of the server without taking it. */
  isHeld(pool: Database, key: string): Promise<boolean>
  /** Takes `key` twice on one raw session; true when the server granted both (locks stack). */
  stacksOnOneSession(pool: Database, key: string): Promise<boolean>
}

const pools: Array<() => Promise<unknown>> = []
let targets: Target[] = []

async function run(pool: Database, sql: string, params?: unknown[]) {
  return (await withConnection(pool, (session) => session.query(sql, params))).rows as Record<
    string,
    unknown
  >[]
}

/** Runs `sql` on a session that is closed afterwards (so that what it holds dies with it). */
async function onThrowawaySession(pool: Database, sql: string, params: unknown[]) {
  const session = await pool.acquire()
  try {
    return (await session.query<Record<string, unknown>>(sql, params)).rows
  } finally {
    session.release(true)
  }
}

function pgTarget(url: string): Target {
  return {
    name: 'PostgreSQL',
    async pool(max = 10) {
      const opened = openPostgres(url, 'locks', max)
      pools.push(() => opened.close())
      return opened.db
    },
    query: run,
    async sessionId(lock) {
      const { rows } = await lock.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      return Number(rows[0]?.pid)
    },
    async kill(pool, id) {
      await run(pool, 'SELECT pg_terminate_backend($1)', [id])
    },
    async isHeld(pool, key) {
      const rows = await run(
        pool,
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
        [lockIdentifier(key, { kind: 'int64' }).toString()],
      )
      return Number(rows[0]?.n) > 0
    },
    async stacksOnOneSession(pool, key) {
      const id = lockIdentifier(key, { kind: 'int64' }).toString()
      const rows = await onThrowawaySession(
        pool,
        'SELECT pg_try_advisory_lock($1::bigint) AND pg_try_advisory_lock($1::bigint) AS both',
        [id],
      )
      return rows[0]?.both === true
    },
  }
}

function mariadbTarget(url: string): Target {
  return {
    name: 'MariaDB',
    async pool(max = 10) {
      const opened = await openMysql(url, 'locks', max)
      pools.push(() => opened.close())
      return opened.db
    },
    query: run,
    async sessionId(lock) {
      const { rows } = await lock.query<{ id: number }>('SELECT CONNECTION_ID() AS id')
      return Number(rows[0]?.id)
    },
    async kill(pool, id) {
      await run(pool, `KILL ${Number(id)}`)
    },
    async isHeld(pool, key) {
      const rows = await run(pool, 'SELECT IS_USED_LOCK(?) AS holder', [key])
      return rows[0]?.holder !== null
    },
    async stacksOnOneSession(pool, key) {
      const rows = await onThrowawaySession(
        pool,
        'SELECT GET_LOCK(?, 0) + GET_LOCK(?, 0) AS granted',
        [key, key],
      )
      return Number(rows[0]?.granted) === 2
    },
  }
}

before(async () => {
  const postgres = await testPostgres()
  targets = [pgTarget(await postgres.createDatabase())]
  const mariadb = await testMariadb()
  if (mariadb !== undefined) targets.push(mariadbTarget(await mariadb.createDatabase()))
})
after(async () => {
  for (const end of pools.splice(0)) await end().catch(() => {})
  await stopTestServers()
})

let keyCount = 0
const freshKey = (label: string) => `${label}:${process.pid}:${++keyCount}`

/** Runs `body` once per database: every lock behaviour must be the same on each. */
function onEachDatabase(title: string, body: (target: Target) => Promise<void>): void {
  for (const name of ['PostgreSQL', 'MariaDB'] as const) {
    test(`${name}: ${title}`, async (t) => {
      const target = targets.find((candidate) => candidate.name === name)
      if (target === undefined) return t.skip(`no ${name}`)
      await body(target)
    })
  }
}

async function counterTable(target: Target, pool: Database): Promise<string> {
  const table = `counter_${++keyCount}`
  await target.query(pool, `CREATE TABLE ${table} (id int PRIMARY KEY, n int NOT NULL)`)
  await target.query(pool, `INSERT INTO ${table} VALUES (1, 0)`)
  return table
}

/** Read, pause, write: loses updates unless something serialises it. */
async function slowIncrement(target: Target, pool: Database, table: string): Promise<void> {
  const [row] = await target.query(pool, `SELECT n FROM ${table} WHERE id = 1`)
  await sleep(2)
  const placeholder = target.name === 'PostgreSQL' ? '$1' : '?'
  await target.query(pool, `UPDATE ${table} SET n = ${placeholder} WHERE id = 1`, [
    Number(row?.n) + 1,
  ])
}

async function counterValue(target: Target, pool: Database, table: string): Promise<number> {
  const [row] = await target.query(pool, `SELECT n FROM ${table} WHERE id = 1`)
  return Number(row?.n)
}

describe('database locks', () => {
  onEachDatabase(
    '8 holders incrementing a counter lose no update; without the lock they do',
    async (target) => {
      const pool = await target.pool(12)
      const guarded = await counterTable(target, pool)
      const unguarded = await counterTable(target, pool)
      const key = freshKey('counter')
      const workers = 8
      const rounds = 15
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let round = 0; round < rounds; round++) {
            await withLock(pool, key, () => slowIncrement(target, pool, guarded))
          }
        }),
      )
      await Promise.all(
        Array.from({ length: workers }, async () => {
          for (let round = 0; round < rounds; round++) await slowIncrement(target, pool, unguarded)
        }),
      )
      assert.equal(await counterValue(target, pool, guarded), workers * rounds)
      // The control: the same work without the lock does lose updates, so the test can fail.
      assert.ok((await counterValue(target, pool, unguarded)) < workers * rounds)
    },
  )

  onEachDatabase(
    'a timeout is a typed error after the time asked, not much later',
    async (target) => {
      const pool = await target.pool()
      const key = freshKey('timeout')
      await using holder = await createLock(pool, key).acquire()
      const waiter = createLock(pool, key)
      const started = performance.now()
      await assert.rejects(
        waiter.acquire({ timeout: 250 }),
        (e: unknown) =>
          isLockTimeoutError(e) && e.waitedMs === 250 && e.key === JSON.stringify(key),
      )
      // Not before the time asked; and it did give up, well before a wait without limit would
      // (ten times the time asked: a bound that holds on a loaded machine).
      const elapsed = performance.now() - started
      assert.ok(elapsed >= 240, `gave up after ${elapsed.toFixed(0)} ms, before 250 ms`)
      assert.ok(elapsed < 250 * 10, `gave up after ${elapsed.toFixed(0)} ms`)
      assert.equal(waiter.locked, false)
      assert.equal(await waiter.tryAcquire(), false)
      await holder.release()
      assert.equal(await waiter.tryAcquire(), true)
      await waiter.release()
    },
  )

  onEachDatabase(
    'an AbortSignal cancels the wait on the server; the session stays usable and holds nothing',
    async (target) => {
      const pool = await target.pool()
      // One session, so that the test sees it given back. The mariadb connector keeps its pool's
      // settings private, so its KILL QUERY needs a second session of that pool.
      const sessions = target.name === 'MariaDB' && mysqlDriver === 'mariadb' ? 2 : 1
      const waiterPool = await target.pool(sessions)
      const key = freshKey('abort')
      const holder = await createLock(pool, key).acquire()
      const controller = new AbortController()
      setTimeout(() => controller.abort(new Error('shutting down')), 200)
      const started = performance.now()
      await assert.rejects(
        createLock(waiterPool, key).acquire({ signal: controller.signal }),
        (e: unknown) =>
          isLockWaitAbortedError(e) && (e.cause as Error | undefined)?.message === 'shutting down',
      )
      assert.ok(performance.now() - started < 2000, 'the abort ended the wait promptly')
      // The one session of waiterPool was given back and answers.
      const [row] = await target.query(waiterPool, 'SELECT 1 AS one')
      assert.equal(Number(row?.one), 1)
      await holder.release()
      // Nothing was left held by the cancelled session: another session takes the lock at once.
      const other = createLock(pool, key)
      assert.equal(await other.tryAcquire(), true)
      await other.release()
      // Aborts that race the statement (sent before the server starts waiting) still end the wait.
      const stillHeld = await createLock(pool, key).acquire()
      for (let attempt = 0; attempt < 10; attempt++) {
        const quick = new AbortController()
        setTimeout(() => quick.abort(), attempt * 2)
        const began = performance.now()
        await assert.rejects(
          createLock(waiterPool, key).acquire({ signal: quick.signal }),
          (e: unknown) => isLockWaitAbortedError(e),
        )
        assert.ok(performance.now() - began < 2000, `attempt ${attempt} ended promptly`)
      }
      await stillHeld.release()
      // An already aborted signal never reaches the server.
      await assert.rejects(
        createLock(pool, key).acquire({ signal: AbortSignal.abort() }),
        (e: unknown) => isLockWaitAbortedError(e),
      )
    },
  )

  onEachDatabase(
    'a killed session is reported: event, signal, locked, and release says lost',
    async (target) => {
      const pool = await target.pool()
      const key = freshKey('lost')
      const lock = await createLock(pool, key).acquire()
      const id = await target.sessionId(lock)
      const events: LockLostError[] = []
      lock.on('lost', (error) => events.push(error))
      await target.kill(pool, id)
      await waitFor('the lost event', 5000, async () => events.length === 1)
      assert.ok(isLockLostError(events[0]))
      assert.equal(lock.locked, false)
      assert.equal(lock.status, 'lost')
      assert.ok(lock.signal.aborted)
      assert.ok(isLockLostError(lock.signal.reason))
      await assert.rejects(lock.release(), (e: unknown) => isLockLostError(e))
      // The server releases it with the session, once the killed session has finished ending
      // (KILL returns before MariaDB's thread has let go of its locks).
      const next = createLock(pool, key)
      await waitFor('the server to release the lock', 5000, () => next.tryAcquire())
      assert.equal(next.locked, true)
      await next.release()
    },
  )

  onEachDatabase(
    'withLock: work that outlives its lock ends with LockLostError',
    async (target) => {
      const pool = await target.pool()
      const key = freshKey('lost-work')
      await assert.rejects(
        withLock(pool, key, async (lock) => {
          await target.kill(pool, await target.sessionId(lock))
          const signal = lock.signal
          if (!signal.aborted) {
            await new Promise((resolve) =>
              signal.addEventListener('abort', resolve, { once: true }),
            )
          }
          return 'done'
        }),
        (e: unknown) => isLockLostError(e),
      )
    },
  )

  onEachDatabase(
    're-entrancy is refused the same way, although the server would stack the lock',
    async (target) => {
      const pool = await target.pool()
      const key = freshKey('reentry')
      assert.equal(await target.stacksOnOneSession(pool, key), true, 'the server stacks')
      const lock = await createLock(pool, key).acquire()
      await assert.rejects(lock.acquire(), (e: unknown) => isLockReentryError(e))
      assert.equal(lock.locked, true, 'the refused acquire left the lock held')
      // Another lock object elsewhere contends like any other session.
      assert.equal(await createLock(pool, key).tryAcquire(), false)
      await lock.release()
      // Refused at once, not after a self-deadlock: the inner call has no timeout, so a wait on the
      // server for the outer holder could never end; it is refused while the outer still holds.
      let heldWhenRefused: boolean | undefined
      await assert.rejects(
        withLock(pool, key, async (outer) => {
          try {
            return await withLock(pool, key, async () => 'inner')
          } finally {
            heldWhenRefused = outer.locked && (await target.isHeld(pool, key))
          }
        }),
        (e: unknown) => isLockReentryError(e),
      )
      assert.equal(heldWhenRefused, true, 'refused while the outer withLock held the lock')
      // Another key nests fine, and the outer lock is free again afterwards.
      assert.equal(
        await withLock(pool, key, () => withLock(pool, `${key}:b`, async () => 'nested')),
        'nested',
      )
      const after = createLock(pool, key)
      assert.equal(await after.tryAcquire(), true)
      await after.release()
    },
  )

  onEachDatabase(
    'transaction scope: held until COMMIT or ROLLBACK, work committed or not with it',
    async (target) => {
      const pool = await target.pool()
      const table = await counterTable(target, pool)
      const key = freshKey('xact')
      await withLock(
        pool,
        key,
        async (lock) => {
          await lock.query(`UPDATE ${table} SET n = 10 WHERE id = 1`)
          assert.equal(await target.isHeld(pool, key), true, 'held inside the transaction')
          assert.equal(await counterValue(target, pool, table), 0, 'not committed yet')
        },
        { scope: 'transaction' },
      )
      assert.equal(await counterValue(target, pool, table), 10)
      assert.equal(await target.isHeld(pool, key), false, 'free after COMMIT')
      await assert.rejects(
        withLock(
          pool,
          key,
          async (lock) => {
            await lock.query(`UPDATE ${table} SET n = 20 WHERE id = 1`)
            throw new Error('changed my mind')
          },
          { scope: 'transaction' },
        ),
        /changed my mind/,
      )
      assert.equal(await counterValue(target, pool, table), 10, 'rolled back')
      assert.equal(await target.isHeld(pool, key), false, 'free after ROLLBACK')
      // A transaction-scoped lock that times out leaves nothing open.
      const holder = await createLock(pool, key).acquire()
      await assert.rejects(
        withLock(pool, key, async () => 'never', { scope: 'transaction', timeout: 100 }),
        (e: unknown) => isLockTimeoutError(e),
      )
      await holder.release()
    },
  )

  onEachDatabase(
    'fencing tokens grow with every acquisition, across contenders',
    async (target) => {
      const pool = await target.pool(12)
      const key = freshKey('fence')
      const seen: bigint[] = []
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          for (let round = 0; round < 5; round++) {
            await withLock(
              pool,
              key,
              async (lock) => {
                assert.equal(typeof lock.fencingToken, 'bigint')
                seen.push(lock.fencingToken as bigint)
                await sleep(1)
              },
              { fencing: true },
            )
          }
        }),
      )
      assert.equal(seen.length, 30)
      for (let index = 1; index < seen.length; index++) {
        assert.ok(
          (seen[index] as bigint) > (seen[index - 1] as bigint),
          `token ${seen[index]} after ${seen[index - 1]}`,
        )
      }
      const lock = createLock(pool, key)
      assert.equal(lock.fencingToken, undefined)
    },
  )

  onEachDatabase(
    'a released lock says so: signal aborted, query and release refused',
    async (target) => {
      const pool = await target.pool()
      const lock = await createLock(pool, freshKey('released')).acquire()
      const signal = lock.signal
      assert.equal(signal.aborted, false)
      await lock.release()
      assert.ok(signal.aborted)
      await assert.rejects(lock.release(), (e: unknown) => isLockStateError(e))
      await assert.rejects(lock.query('SELECT 1'), (e: unknown) => isLockStateError(e))
      {
        await using held = await createLock(pool, `${lock.key}`).acquire()
        assert.equal(held.locked, true)
      }
      const again = createLock(pool, `${lock.key}`)
      assert.equal(await again.tryAcquire(), true, 'await using released it')
      await again.release()
    },
  )

  test('PostgreSQL: a server crash and restart is reported as a lost lock; the lock is free after', async () => {
    const server = await startPostgres({})
    const target = pgTarget(await server.createDatabase())
    const pool = await target.pool()
    const lock = await createLock(pool, 'crash').acquire()
    let lost = false
    lock.on('lost', () => {
      lost = true
    })
    await (server.owned as { restart(): Promise<void> }).restart()
    await waitFor('the lost event', 10_000, async () => lost)
    assert.equal(lock.locked, false)
    await assert.rejects(lock.release(), (e: unknown) => isLockLostError(e))
    const after = createLock(pool, 'crash')
    assert.equal(await after.tryAcquire(), true)
    await after.release()
  })

  test('PostgreSQL: a heartbeat reports a lock lost in a network partition, where nothing closes', async () => {
    const url = new URL(await (await testPostgres()).createDatabase())
    const proxy = await CuttingProxy.start(Number(url.port))
    try {
      url.hostname = '127.0.0.1'
      url.port = String(proxy.port)
      const viaProxy = await pgTarget(url.toString()).pool()
      // Each beat must be answered within its period: 500 ms, so that a loaded machine does not
      // miss one while the network is up.
      const watched = await createLock(viaProxy, 'partition', { heartbeat: 500 }).acquire()
      const unwatched = await createLock(viaProxy, 'partition-2').acquire()
      const lost: string[] = []
      watched.on('lost', (error) => lost.push(error.message))
      // Only the watched lock's session speaks while both are held: three beats sent means the
      // first two were answered (a missed beat ends the heartbeat).
      const sent = proxy.forwarded
      await waitFor('three heartbeats', 10_000, async () => proxy.forwarded >= sent + 3)
      assert.deepEqual(lost, [], 'heartbeats answered while the network was up')
      proxy.partitioned = true
      // Noticed by the heartbeat, where TCP would take minutes to give up: generous for a busy
      // machine, still far below anything but the heartbeat.
      await waitFor('the heartbeat to notice', 10_000, async () => lost.length === 1)
      assert.match(lost[0] ?? '', /did not answer a heartbeat/)
      assert.ok(watched.signal.aborted)
      await assert.rejects(watched.release(), (e: unknown) => isLockLostError(e))
      // Without a heartbeat nothing is noticed: the other lock still claims to be held.
      assert.equal(unwatched.locked, true)
      proxy.partitioned = false
      await unwatched.release()
      assert.throws(
        () => createLock(viaProxy, 'x', { heartbeat: 5 }),
        (e: unknown) =>
          isConfigurationError(e) && /heartbeat is a number of milliseconds ≥ 10/.test(e.message),
      )
    } finally {
      await proxy.stop()
    }
  })

  test('PostgreSQL: shared locks coexist and exclude an exclusive one', async () => {
    const target = targets[0] as Target
    const pool = await target.pool()
    const key = freshKey('shared')
    const readerA = await createLock(pool, key, { mode: 'shared' }).acquire()
    const readerB = createLock(pool, key, { mode: 'shared' })
    assert.equal(await readerB.tryAcquire(), true)
    const writer = createLock(pool, key)
    assert.equal(await writer.tryAcquire(), false)
    await readerA.release()
    assert.equal(await writer.tryAcquire(), false)
    await readerB.release()
    assert.equal(await writer.tryAcquire(), true)
    assert.equal(await createLock(pool, key, { mode: 'shared' }).tryAcquire(), false)
    await writer.release()
  })

  test('PostgreSQL: a string key locks the documented integer, visible in pg_locks', async () => {
    const target = targets[0] as Target
    const pool = await target.pool()
    const key = 'billing:user:42'
    const [row] = await target.query(
      pool,
      "SELECT ('x' || left(encode(sha256(convert_to($1, 'UTF8')), 'hex'), 16))::bit(64)::bigint::text AS id",
      [key],
    )
    assert.equal(row?.id, '201281447392322503')
    const lock = await createLock(pool, key).acquire()
    const [held] = await target.query(
      pool,
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
      ['201281447392322503'],
    )
    assert.equal(held?.n, 1)
    await lock.release()
  })

  test('MariaDB: a shared lock is refused rather than silently made exclusive', async (t) => {
    const target = targets.find((candidate) => candidate.name === 'MariaDB')
    if (target === undefined) return t.skip('no MariaDB')
    const pool = await target.pool()
    assert.throws(
      () => createLock(pool, 'k', { mode: 'shared' }),
      (e: unknown) => isConfigurationError(e) && /exclusive only/.test(e.message),
    )
    const lock = await createLock(pool, 'k'.repeat(80), { longKeys: 'hash' }).acquire()
    const [row] = await target.query(pool, 'SELECT IS_USED_LOCK(?) IS NOT NULL AS used', [
      lock.identifier,
    ])
    assert.equal(Number(row?.used), 1)
    await lock.release()
  })
})
