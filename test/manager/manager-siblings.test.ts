/**
 * Savepoints of concurrent async flows in one managed transaction (`tx.savepoint`), and the
 * statements of those flows on one branch connection: a sibling's savepoint never nests inside
 * another's, so no rollback undoes work that was reported done. Asserts on committed rows.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { DyingStartupProxy } from '../../harness/dying-startup-proxy.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import { assertSecondKept, overlappingSiblings } from '../../harness/siblings.js'
import {
  createCoordinator,
  createRunner,
  isConcurrentSavepointError,
  isConfigurationError,
  isTransactionRolledBackError,
  isTransactionStateError,
} from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

const servers = serversForFile()
const { fixture } = servers

const member = (name: string) => fixture.markedPg(servers.postgres, name)

describe('tx.savepoint(work): the form for concurrent flows', () => {
  test('a sibling flow waits its turn: its released savepoint is kept when the first rolls back', async () => {
    const a = await member('a')
    const manager = await fixture.manager({ decisionLog: a.db })
    const outcome = await manager.run(async (tx) => {
      const branch = await tx.join('a', a.db)
      return overlappingSiblings((work) =>
        tx.savepoint(() => work((id) => branch.query(`INSERT INTO marks VALUES ('${id}')`))),
      )
    })
    assertSecondKept(outcome, await pgMarks(a.pool))
    assert.deepEqual(await pgPrepared(a.pool), [])
  })

  test('savepoints set inside the work nest without waiting; a throw rolls back only its own', async () => {
    const a = await member('a')
    const b = await member('b')
    const manager = await fixture.manager({ decisionLog: a.db })
    await manager.run(async (tx) => {
      const ab = await tx.join('a', a.db)
      const bb = await tx.join('b', b.db)
      await tx.savepoint(async () => {
        await ab.query(`INSERT INTO marks VALUES ('outer')`)
        await tx
          .savepoint(async () => {
            await bb.query(`INSERT INTO marks VALUES ('undone')`)
            throw new Error('inner')
          })
          .catch(() => undefined)
        // A handle inside the work is inside it too.
        const handle = await tx.savepoint()
        await bb.query(`INSERT INTO marks VALUES ('handle')`)
        await handle.release()
      })
    })
    assert.deepEqual(await pgMarks(a.pool), ['outer'])
    assert.deepEqual(await pgMarks(b.pool), ['handle'])
  })

  test('the work receives the transaction and its value is returned; anything else than a function is refused', async () => {
    const a = await member('a')
    const manager = await fixture.manager({ decisionLog: a.db })
    await manager.run(async (tx) => {
      await tx.join('a', a.db)
      assert.equal(await tx.savepoint(async (inner) => (inner === tx ? 'same' : 'other')), 'same')
      assert.throws(
        () => tx.savepoint('now' as never),
        (e: unknown) => isConfigurationError(e) && /takes nothing/.test(e.message),
      )
    })
  })
})

describe('tx.savepoint(): the handle form', () => {
  test('from two flows: the second is refused at once, with the fix; nothing of it ran', async () => {
    const a = await member('a')
    const manager = await fixture.manager({ decisionLog: a.db })
    const outcome = await manager.run(async (tx) => {
      const branch = await tx.join('a', a.db)
      return overlappingSiblings(async (work) => {
        const savepoint = await tx.savepoint()
        try {
          await work((id) => branch.query(`INSERT INTO marks VALUES ('${id}')`))
        } catch (error) {
          await savepoint.rollback()
          throw error
        }
        await savepoint.release()
      })
    })
    assert.equal((outcome.first as Error).message, 'the first sibling fails')
    assert.ok(isConcurrentSavepointError(outcome.second), String(outcome.second))
    assert.equal(outcome.second.reason, 'refused')
    assert.match(outcome.second.message, /outer\.savepoint\(\)/)
    assert.match(outcome.second.message, /tx\.savepoint\(async \(\) => \{ … \}\)/)
    assert.deepEqual(outcome.events, ['first wrote', 'second begins', 'first fails'])
    assert.deepEqual(await pgMarks(a.pool), [])
  })

  test('nesting is said with outer.savepoint(); rolling back the outer undoes the inner', async () => {
    const a = await member('a')
    const manager = await fixture.manager({ decisionLog: a.db })
    await manager.run(async (tx) => {
      const branch = await tx.join('a', a.db)
      await branch.query(`INSERT INTO marks VALUES ('kept')`)
      const outer = await tx.savepoint()
      await assert.rejects(
        tx.savepoint(),
        (e: unknown) => isConcurrentSavepointError(e) && e.reason === 'refused',
      )
      const inner = await outer.savepoint()
      await branch.query(`INSERT INTO marks VALUES ('inner')`)
      await inner.release()
      await outer.rollback()
      await assert.rejects(inner.savepoint(), isTransactionStateError)
      await outer.release()
      // Released: the turn is free again.
      const next = await tx.savepoint()
      await branch.query(`INSERT INTO marks VALUES ('next')`)
      await next.release()
    })
    assert.deepEqual(await pgMarks(a.pool), ['kept', 'next'])
  })

  test('a callback-form savepoint beside an open handle is refused too', async () => {
    const a = await member('a')
    const manager = await fixture.manager({ decisionLog: a.db })
    await manager.run(async (tx) => {
      await tx.join('a', a.db)
      const handle = await tx.savepoint()
      await assert.rejects(
        tx.savepoint(async () => undefined),
        (e: unknown) => isConcurrentSavepointError(e) && e.reason === 'refused',
      )
      await handle.release()
    })
  })
})

describe('runner.run on a branch of a managed transaction', () => {
  test('attempts of two flows take turns: the second operation, told done, is kept when the first fails', async () => {
    const a = await member('a')
    const manager = await fixture.manager({ decisionLog: a.db })
    const runner = createRunner({ maxRetries: 0 })
    const outcome = await manager.run(async (tx) => {
      const branch = await tx.join('a', a.db)
      return overlappingSiblings((work) =>
        runner.run(branch, () => work((id) => branch.query(`INSERT INTO marks VALUES ('${id}')`))),
      )
    })
    assertSecondKept(outcome, await pgMarks(a.pool))
  })
})

describe('siblingWaitTimeout', () => {
  test('bounds a wait that cannot end, and 0 refuses at once; a bad value is a ConfigurationError', async () => {
    const a = await member('a')
    for (const siblingWaitTimeout of [-1, Number.NaN, '100']) {
      await assert.rejects(
        fixture.manager({ decisionLog: a.db, siblingWaitTimeout: siblingWaitTimeout as number }),
        (e: unknown) => isConfigurationError(e) && /siblingWaitTimeout/.test(e.message),
      )
    }
    const bounded = await fixture.manager({ decisionLog: a.db, siblingWaitTimeout: 200 })
    const timedOut = await bounded.run(async (tx) => {
      await tx.join('a', a.db)
      // The first holds its savepoint until the sibling has its answer: a wait that cannot end.
      let entered = (): void => undefined
      const inside = new Promise<void>((resolve) => {
        entered = resolve
      })
      let answered = (): void => undefined
      const hold = new Promise<void>((resolve) => {
        answered = resolve
      })
      const first = tx.savepoint(async () => {
        entered()
        await hold
      })
      await inside
      const sibling = await tx.savepoint(async () => undefined).catch((error: unknown) => error)
      answered()
      await first
      return sibling
    })
    assert.ok(isConcurrentSavepointError(timedOut), String(timedOut))
    assert.equal(timedOut.reason, 'timeout')
    assert.match(timedOut.message, /waited 200 ms for tx\.savepoint\(work\) to end/)
    const refusing = await fixture.manager({ decisionLog: a.db, siblingWaitTimeout: 0 })
    await refusing.run(async (tx) => {
      await tx.join('a', a.db)
      const results = await Promise.allSettled([
        tx.savepoint(async () => undefined),
        tx.savepoint(async () => undefined),
      ])
      assert.equal(results[0]?.status, 'fulfilled')
      assert.ok(
        results[1]?.status === 'rejected' &&
          isConcurrentSavepointError(results[1].reason) &&
          results[1].reason.reason === 'refused',
      )
    })
  })
})

describe('a flow that outlives its transaction', () => {
  test('a join still acquiring its connection when a sibling fails gives the connection back and is refused', async () => {
    const url = await servers.postgres.createDatabase()
    const a = await member('a')
    const pool = new pg.Pool({ connectionString: url, max: 1 })
    try {
      const b = pgDatabase(pool, { name: 'b' })
      const manager = await fixture.manager({ decisionLog: a.db })
      // The pool's one client is busy: the join waits for it until the transaction has ended.
      const busy = await pool.connect()
      let joining: Promise<unknown> | undefined
      const failed = await manager
        .run(async (tx) => {
          await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('a')`)
          joining = tx.join('b', b).then(
            () => 'joined',
            (error: unknown) => error,
          )
          throw new Error('a sibling fails')
        })
        .catch((error: unknown) => error)
      assert.equal((failed as Error).message, 'a sibling fails')
      busy.release()
      const joined = await joining
      assert.ok(isTransactionStateError(joined), String(joined))
      assert.equal(pool.totalCount, pool.idleCount, 'no client is left checked out')
      assert.equal((await pool.query('SELECT 1 AS one')).rows[0].one, 1)
      assert.deepEqual(await pgMarks(a.pool), [])
    } finally {
      await pool.end()
    }
  })
})

describe('statements of concurrent flows on one node-postgres branch', () => {
  test('reach the client one at a time (pg 8.23 deprecates its own queue): none waits inside pg, no warning', async () => {
    const url = await servers.postgres.createDatabase()
    const pool = new pg.Pool({ connectionString: url, max: 4 })
    try {
      await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
      const a = pgDatabase(pool, { name: 'a' })
      const manager = await fixture.manager({ decisionLog: a })
      let inPg = 0
      let mostInPg = 0
      pool.on('acquire', (client) => {
        const original = client.query
        if ((original as { counted?: boolean }).counted) return
        const counting = function (this: unknown, ...args: unknown[]) {
          inPg++
          mostInPg = Math.max(mostInPg, inPg)
          const answer = (original as (...a: unknown[]) => unknown).apply(client, args)
          const settle = () => {
            inPg--
          }
          if (answer instanceof Promise) answer.then(settle, settle)
          else settle()
          return answer
        }
        ;(counting as { counted?: boolean }).counted = true
        client.query = counting as typeof client.query
      })
      const warnings: string[] = []
      const onWarning = (warning: Error) => void warnings.push(warning.message)
      process.on('warning', onWarning)
      try {
        await manager.run(async (tx) => {
          const branch = await tx.join('a', a)
          await Promise.all([
            ...['q1', 'q2', 'q3', 'q4'].map((id) =>
              branch.connection.query(`INSERT INTO marks VALUES ('${id}')`),
            ),
            ...['s1', 's2'].map((id) =>
              tx.savepoint(() => branch.query(`INSERT INTO marks VALUES ('${id}')`)),
            ),
          ])
        })
        await new Promise((resolve) => setImmediate(resolve))
      } finally {
        process.off('warning', onWarning)
      }
      assert.deepEqual(await pgMarks(pool), ['q1', 'q2', 'q3', 'q4', 's1', 's2'])
      assert.equal(mostInPg, 1, 'one statement at a time in the client')
      assert.deepEqual(
        warnings.filter((message) => /already executing a query/.test(message)),
        [],
      )
    } finally {
      await pool.end()
    }
  })
})

describe('a node-postgres client whose server dies as pg-pool hands it out', () => {
  test('its error reaches txkit, not the process: the transaction is rolled back, nothing uncaught', async () => {
    const a = await member('a')
    const proxy = await DyingStartupProxy.start(Number(new URL(a.url).port))
    const target = new URL(a.url)
    target.host = `127.0.0.1:${proxy.port}`
    const pool = new pg.Pool({ connectionString: target.toString(), max: 2 })
    pool.on('error', () => {})
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown) => void uncaught.push(error)
    // Taken over from node:test for this test alone: an error to no listener would end the file.
    const previous = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')
    process.on('uncaughtException', onUncaught)
    try {
      const coordinator = createCoordinator({ decisionLog: a.db })
      const dying = pgDatabase(pool, { name: 'dying' })
      const failed = await coordinator
        .transaction({ a: a.db, dying }, async (branches) => {
          await branches.a.query(`INSERT INTO marks VALUES ('never')`)
          await branches.dying.query('SELECT 1')
        })
        .catch((error: unknown) => error)
      await new Promise((resolve) => setImmediate(resolve))
      assert.deepEqual(uncaught, [], 'no error reached the process')
      assert.ok(isTransactionRolledBackError(failed), String(failed))
      assert.deepEqual(await pgMarks(a.pool), [])
      await coordinator.close()
    } finally {
      process.off('uncaughtException', onUncaught)
      for (const listener of previous) process.on('uncaughtException', listener)
      await pool.end()
      await proxy.stop()
    }
  })
})
