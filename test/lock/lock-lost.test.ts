import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { openPostgres, postgresDriver } from '../../harness/drivers.js'
import { serversForFile } from '../../harness/file-servers.js'
import { waitFor } from '../../harness/wait-for.js'
import {
  createLock,
  type DatabaseLock,
  isLockLostError,
  type LockLostError,
  withLock,
} from '../../src/index.js'

const servers = serversForFile({ mariadb: false })
const repository = fileURLToPath(new URL('../../..', import.meta.url))

/**
 * Runs `steps` from another process while this one's event loop is blocked, as a holder busy in a
 * long synchronous step (or stalled) would be: whatever the server says meanwhile waits in the
 * socket, and reaches the driver only with the holder's next statement.
 */
function whileBusy(
  url: string,
  steps: ReadonlyArray<{ terminate?: number; waitGranted?: number }>,
) {
  const script = `
    import pg from 'pg'
    const client = new pg.Client({ connectionString: process.env.URL })
    await client.connect()
    for (const step of JSON.parse(process.env.STEPS)) {
      if (step.terminate) await client.query('SELECT pg_terminate_backend($1)', [step.terminate])
      if (step.waitGranted) {
        for (let i = 0; ; i++) {
          const { rows } = await client.query(
            "SELECT count(*)::int AS n FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND granted",
            [step.waitGranted],
          )
          if (rows[0].n > 0) break
          if (i > 500) throw new Error('never granted')
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
      }
    }
    // Let the terminated sessions' last words reach the other process's sockets.
    await new Promise((resolve) => setTimeout(resolve, 200))
    await client.end()
  `
  const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repository,
    env: { ...process.env, URL: url, STEPS: JSON.stringify(steps) },
    encoding: 'utf8',
    timeout: 20_000,
  })
  assert.equal(run.status, 0, run.stderr)
}

async function backendPid(lock: DatabaseLock): Promise<number> {
  const { rows } = await lock.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  return Number(rows[0]?.pid)
}

async function setUp() {
  const url = await servers.postgres.createDatabase()
  const pool = new pg.Pool({ connectionString: url, max: 6 })
  pool.on('error', () => {})
  const driver = openPostgres(url, 'lost', 6, postgresDriver, pool)
  return {
    url,
    pool,
    db: driver.db,
    close: async () => {
      await driver.close()
      await pool.end()
    },
  }
}

function watchLost(lock: DatabaseLock): LockLostError[] {
  const events: LockLostError[] = []
  lock.on('lost', (error) => events.push(error))
  return events
}

function assertLost(lock: DatabaseLock, events: readonly LockLostError[]): void {
  assert.equal(events.length, 1, 'one lost event')
  assert.ok(isLockLostError(events[0]))
  assert.equal(lock.locked, false)
  assert.ok(lock.signal.aborted, 'the signal is aborted')
  assert.ok(isLockLostError(lock.signal.reason))
}

describe('PostgreSQL: a lock whose session is terminated while its holder is busy', () => {
  test('release() that crosses the server’s notice reports LockLostError, the event and the signal', async () => {
    const { url, db, close } = await setUp()
    try {
      const lock = await createLock(db, 'busy-release').acquire()
      const events = watchLost(lock)
      whileBusy(url, [{ terminate: await backendPid(lock) }])
      await assert.rejects(lock.release(), (e: unknown) => isLockLostError(e))
      assertLost(lock, events)
    } finally {
      await close()
    }
  })

  test('a statement through the lock after the stall reports LockLostError, not 57P01', async () => {
    const { url, db, close } = await setUp()
    try {
      const lock = await createLock(db, 'busy-query').acquire()
      const events = watchLost(lock)
      whileBusy(url, [{ terminate: await backendPid(lock) }])
      await assert.rejects(lock.query('SELECT 1'), (e: unknown) => isLockLostError(e))
      assertLost(lock, events)
      assert.equal(lock.status, 'lost')
      await assert.rejects(lock.release(), (e: unknown) => isLockLostError(e))
    } finally {
      await close()
    }
  })

  test('withLock around a long synchronous step ends with LockLostError', async () => {
    const { url, db, close } = await setUp()
    try {
      let seen: DatabaseLock | undefined
      let events: LockLostError[] = []
      await assert.rejects(
        withLock(db, 'busy-with', async (lock) => {
          seen = lock
          events = watchLost(lock)
          whileBusy(url, [{ terminate: await backendPid(lock) }])
          return 'done'
        }),
        (e: unknown) => isLockLostError(e),
      )
      assert.ok(seen)
      assertLost(seen, events)
    } finally {
      await close()
    }
  })

  test('acquire() granted just before its session ends rejects with LockLostError, never resolves lost', async () => {
    const { url, pool, db, close } = await setUp()
    try {
      const holder = await createLock(db, 'busy-grant').acquire()
      const holderPid = await backendPid(holder)
      const waiter = createLock(db, 'busy-grant')
      const acquiring = waiter.acquire({ timeout: 10_000 })
      // The waiter's session is the one waiting on the lock.
      let waiterPid = 0
      await waitFor('the waiter to wait', 5000, async () => {
        const { rows } = await pool.query<{ pid: number }>(
          "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
        )
        waiterPid = Number(rows[0]?.pid ?? 0)
        return waiterPid !== 0
      })
      // While this process is busy: the holder's session ends (the waiter is granted), then the
      // waiter's session ends too. Both answers reach the waiter's driver together.
      whileBusy(url, [
        { terminate: holderPid },
        { waitGranted: waiterPid },
        { terminate: waiterPid },
      ])
      await assert.rejects(acquiring, (e: unknown) => isLockLostError(e))
      assert.equal(waiter.locked, false)
      assert.equal(waiter.status, 'unlocked')
      // The key is free: the server released it with the session.
      const next = createLock(db, 'busy-grant')
      await waitFor('the key to be free', 5000, () => next.tryAcquire())
      await next.release()
      await assert.rejects(holder.release(), (e: unknown) => isLockLostError(e))
    } finally {
      await close()
    }
  })
})
