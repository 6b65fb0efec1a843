import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import { serversForFile } from '../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../harness/fixture.js'
import type { TestServer } from '../harness/test-databases.js'
import {
  type Coordinator,
  type Database,
  isTransactionRolledBackError,
  parseXid,
} from '../src/index.js'

const servers = serversForFile()
const { fixture } = servers

async function pgMarks(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => row.tx)
}

async function myMarks(pool: mysql.Pool): Promise<string[]> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => String(row.tx))
}

/** PostgreSQL `p` and MariaDB `m1`, `m2` (two databases on one server), each with `marks`. */
async function setUp(server: TestServer) {
  const p = fixture.pg(await servers.postgres.createDatabase(), 'p')
  const m1 = await fixture.mysql(await server.createDatabase(), 'm1')
  const m2 = await fixture.mysql(await server.createDatabase(), 'm2')
  await p.pool.query('CREATE TABLE marks (tx text PRIMARY KEY, note text)')
  for (const m of [m1, m2]) {
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY, note text) ENGINE=InnoDB')
  }
  return { p, m1, m2 }
}

async function nothingLeft(p: { pool: pg.Pool }, m: { pool: mysql.Pool }): Promise<void> {
  assert.deepEqual(await pgPrepared(p.pool), [])
  assert.deepEqual(await xaRecover(m.pool), [])
}

function withMariadb(name: string, body: (server: TestServer) => Promise<void>): void {
  test(name, async (t) => {
    if (servers.mariadb === undefined) {
      t.skip('no MariaDB: see the warning above')
      return
    }
    await body(servers.mariadb)
  })
}

describe('PostgreSQL + MariaDB', () => {
  withMariadb('the server is recognised as MariaDB', async (server) => {
    const { m1 } = await setUp(server)
    // mysqlDatabase and mariadbDatabase both tell MySQL from MariaDB.
    const flavoured = m1.db as unknown as { flavour(): Promise<string> }
    assert.equal(await flavoured.flavour(), 'mariadb')
  })

  for (const decisionOn of ['p', 'm1'] as const) {
    withMariadb(
      `a commit is visible everywhere (decision log on ${decisionOn})`,
      async (server) => {
        const { p, m1 } = await setUp(server)
        let recoveredAtDecision: string[] = []
        const coordinator = fixture.coordinator({
          decisionLog: decisionOn === 'p' ? p.db : m1.db,
          onStep: async (event) => {
            if (event.step === 'decision' && event.when === 'before') {
              recoveredAtDecision = [...(await xaRecover(m1.pool)), ...(await pgPrepared(p.pool))]
            }
          },
        })
        await coordinator.createDecisionLog()
        const result = await coordinator.begin({ p: p.db, m1: m1.db }).then(async (tx) => {
          await tx.branches.p.query(`INSERT INTO marks VALUES ('t1', 'p')`)
          await tx.branches.m1.query('INSERT INTO marks VALUES (?, ?)', ['t1', 'm1'])
          return tx.commit()
        })
        assert.equal(
          recoveredAtDecision.length,
          1,
          'only the branch outside the decision database is prepared',
        )
        const parsed = parseXid(recoveredAtDecision[0] ?? '', 'txkit')
        assert.equal(parsed.kind, 'decision')
        assert.equal((parsed as { gtrid: string }).gtrid, result.gtrid)
        assert.deepEqual(await pgMarks(p.pool), ['t1'])
        assert.deepEqual(await myMarks(m1.pool), ['t1'])
        await nothingLeft(p, m1)
      },
    )
  }

  withMariadb(
    'two databases on one MariaDB server are two branches with distinct XIDs',
    async (server) => {
      const { p, m1, m2 } = await setUp(server)
      let recoveredAtDecision: string[] = []
      const coordinator = fixture.coordinator({
        decisionLog: p.db,
        onStep: async (event) => {
          if (event.step === 'decision' && event.when === 'before')
            recoveredAtDecision = await xaRecover(m1.pool)
        },
      })
      await coordinator.createDecisionLog()
      await coordinator.transaction({ p: p.db, m1: m1.db, m2: m2.db }, async ({ p, m1, m2 }) => {
        await p.query(`INSERT INTO marks VALUES ('t2', 'p')`)
        await m1.query(`INSERT INTO marks VALUES ('t2', 'm1')`)
        await m2.query(`INSERT INTO marks VALUES ('t2', 'm2')`)
      })
      assert.equal(recoveredAtDecision.length, 2)
      assert.deepEqual(
        recoveredAtDecision
          .map((xid) => (parseXid(xid, 'txkit') as { index: number }).index)
          .sort(),
        [1, 2],
      )
      assert.deepEqual(await myMarks(m1.pool), ['t2'])
      assert.deepEqual(await myMarks(m2.pool), ['t2'])
      assert.deepEqual(await pgMarks(p.pool), ['t2'])
      await nothingLeft(p, m1)
    },
  )

  withMariadb('a throw inside rolls back PostgreSQL and both MariaDB databases', async (server) => {
    const { p, m1, m2 } = await setUp(server)
    const coordinator = fixture.coordinator({ decisionLog: p.db })
    await coordinator.createDecisionLog()
    await assert.rejects(
      coordinator.transaction({ p: p.db, m1: m1.db, m2: m2.db }, async ({ p, m1, m2 }) => {
        await p.query(`INSERT INTO marks VALUES ('t3', 'p')`)
        await m1.query(`INSERT INTO marks VALUES ('t3', 'm1')`)
        await m2.query(`INSERT INTO marks VALUES ('t3', 'm2')`)
        throw new Error('stop')
      }),
      /stop/,
    )
    assert.deepEqual(await pgMarks(p.pool), [])
    assert.deepEqual(await myMarks(m1.pool), [])
    assert.deepEqual(await myMarks(m2.pool), [])
    await nothingLeft(p, m1)
  })

  withMariadb(
    'a MariaDB connection killed before its prepare: everything rolls back',
    async (server) => {
      const { p, m1, m2 } = await setUp(server)
      const coordinator = fixture.coordinator({
        decisionLog: p.db,
        onStep: async (event) => {
          if (
            event.step === 'prepare' &&
            event.when === 'before' &&
            event.branch?.names[0] === 'm2'
          ) {
            await m1.pool.query(`KILL ${threadId}`)
          }
        },
      })
      await coordinator.createDecisionLog()
      let threadId = 0
      await assert.rejects(
        coordinator.transaction({ p: p.db, m1: m1.db, m2: m2.db }, async ({ p, m1, m2 }) => {
          await p.query(`INSERT INTO marks VALUES ('t4', 'p')`)
          await m1.query(`INSERT INTO marks VALUES ('t4', 'm1')`)
          await m2.query(`INSERT INTO marks VALUES ('t4', 'm2')`)
          const [row] = await m2.query<{ id: number }>('SELECT CONNECTION_ID() AS id')
          threadId = row?.id ?? 0
        }),
        (error: unknown) =>
          isTransactionRolledBackError(error) &&
          error.branches.find((branch) => branch.names[0] === 'm2')?.state !== 'prepared',
      )
      assert.deepEqual(await pgMarks(p.pool), [])
      assert.deepEqual(await myMarks(m1.pool), [])
      assert.deepEqual(await myMarks(m2.pool), [])
      await nothingLeft(p, m1)
    },
  )

  withMariadb(
    'a deadlock in a MariaDB branch rolls the whole transaction back cleanly',
    async (server) => {
      const { p, m1 } = await setUp(server)
      await m1.pool.query(`INSERT INTO marks VALUES ('r1', '0'), ('r2', '0')`)
      const coordinator = fixture.coordinator({ decisionLog: p.db })
      await coordinator.createDecisionLog()
      for (const swallow of [false, true]) {
        const outcomes = await deadlockPair(coordinator, p, m1, swallow)
        const failed = outcomes.filter((outcome) => outcome.status === 'rejected')
        assert.equal(failed.length, 1, 'exactly one of the two is the deadlock victim')
        const reason = (failed[0] as PromiseRejectedResult).reason
        if (swallow) {
          // The victim's branch is rollback-only: its XA END fails, and txkit still sends XA ROLLBACK.
          assert.ok(isTransactionRolledBackError(reason), String(reason))
        } else {
          assert.equal((reason as { errno?: number }).errno, 1213)
        }
        await nothingLeft(p, m1)
        const [rows] = await m1.pool.query<mysql.RowDataPacket[]>(
          'SELECT note FROM marks ORDER BY tx',
        )
        const winner = outcomes.findIndex((outcome) => outcome.status === 'fulfilled')
        assert.deepEqual(
          rows.map((row) => row.note),
          [`w${winner}`, `w${winner}`],
        )
        const markRows = await pgMarks(p.pool)
        assert.deepEqual(markRows, [`${swallow}-${winner}`])
        await p.pool.query('DELETE FROM marks')
      }
      // Pooled connections that went through the deadlock are usable again.
      const [check] = await m1.pool.query<mysql.RowDataPacket[]>('SELECT 1 AS one')
      assert.equal(check[0]?.one, 1)
    },
  )

  withMariadb(
    'the MariaDB decision session known dead before its commit: rolled back everywhere, never "unknown"',
    async (server) => {
      const { p, m1 } = await setUp(server)
      let threadId = 0
      const coordinator = fixture.coordinator({
        decisionLog: m1.db,
        onStep: async (event) => {
          if (event.step === 'decision' && event.when === 'before') {
            // Wait until txkit's session has seen its end: the loss is then known.
            const branchSession = m1.driver.connections.at(-1)
            const gone = new Promise<void>((resolve) => branchSession?.onLost?.(resolve))
            await m1.pool.query(`KILL ${threadId}`)
            await gone
          }
        },
      })
      await coordinator.createDecisionLog()
      let caught: unknown
      await coordinator
        .transaction({ p: p.db, m1: m1.db }, async ({ p, m1 }) => {
          await p.query(`INSERT INTO marks VALUES ('t5', 'p')`)
          await m1.query(`INSERT INTO marks VALUES ('t5', 'm1')`)
          const [row] = await m1.query<{ id: number }>('SELECT CONNECTION_ID() AS id')
          threadId = row?.id ?? 0
        })
        .catch((error: unknown) => {
          caught = error
        })
      assert.ok(isTransactionRolledBackError(caught), String(caught))
      assert.doesNotMatch(caught.message, /stay prepared/)
      assert.deepEqual(
        caught.branches.map((branch) => [branch.names[0], branch.state]),
        [
          ['p', 'rolled-back'],
          ['m1', 'rolled-back'],
        ],
      )
      await nothingLeft(p, m1)
      assert.deepEqual(await myMarks(m1.pool), [])
      assert.deepEqual((await p.pool.query('SELECT tx FROM marks')).rows, [])
    },
  )

  withMariadb(
    'sequential protocol: seed-format XIDs over PostgreSQL and MariaDB',
    async (server) => {
      const { p, m1 } = await setUp(server)
      const preparedSeen: string[] = []
      const coordinator = fixture.coordinator({
        protocol: 'sequential',
        prefix: 'sxr',
        onStep: async (event) => {
          if (event.step === 'commit' && event.when === 'before' && event.branch?.index === 0) {
            preparedSeen.push(...(await pgPrepared(p.pool)), ...(await xaRecover(m1.pool)))
          }
        },
      })
      const result = await coordinator.transaction(
        { p: p.db, m1: m1.db },
        async ({ p, m1 }, tx) => {
          await p.query(`INSERT INTO marks VALUES ('t6', 'p')`)
          await m1.query(`INSERT INTO marks VALUES ('t6', 'm1')`)
          return tx.gtrid
        },
      )
      assert.match(result, /^sxr:[0-9a-f]{16}$/)
      assert.deepEqual(preparedSeen, [`${result}:2:0`, `${result}:2:1`])
      assert.deepEqual(await pgMarks(p.pool), ['t6'])
      assert.deepEqual(await myMarks(m1.pool), ['t6'])
      await nothingLeft(p, m1)
    },
  )

  withMariadb(
    'sequential protocol: a failure at the second prepare rolls back the first',
    async (server) => {
      const { p, m1 } = await setUp(server)
      const coordinator = fixture.coordinator({
        protocol: 'sequential',
        onStep: (event) => {
          if (event.step === 'prepare' && event.when === 'before' && event.branch?.index === 1) {
            throw new Error('injected')
          }
        },
      })
      await assert.rejects(
        coordinator.transaction({ p: p.db, m1: m1.db }, async ({ p, m1 }) => {
          await p.query(`INSERT INTO marks VALUES ('t7', 'p')`)
          await m1.query(`INSERT INTO marks VALUES ('t7', 'm1')`)
        }),
        (error: unknown) =>
          isTransactionRolledBackError(error) &&
          /branch "m1" failed to prepare: injected/.test(error.message) &&
          error.branches.every((branch) => branch.state === 'rolled-back'),
      )
      assert.deepEqual(await pgMarks(p.pool), [])
      assert.deepEqual(await myMarks(m1.pool), [])
      await nothingLeft(p, m1)
    },
  )
})

/**
 * Two transactions updating r1 and r2 of one MariaDB database in opposite orders. Each also writes
 * a PostgreSQL mark, so a wrong commit would show there.
 */
async function deadlockPair(
  coordinator: Coordinator,
  p: { db: Database },
  m: { db: Database },
  swallow: boolean,
): Promise<PromiseSettledResult<void>[]> {
  let firstLocked: () => void = () => {}
  const bothLocked = [new Promise<void>((resolve) => (firstLocked = resolve))]
  let secondLocked: () => void = () => {}
  bothLocked.push(new Promise<void>((resolve) => (secondLocked = resolve)))
  const run = (worker: number, order: [string, string], locked: () => void) =>
    coordinator.transaction({ p: p.db, m: m.db }, async ({ p, m }) => {
      await p.query('INSERT INTO marks VALUES ($1, $2)', [`${swallow}-${worker}`, 'x'])
      await m.query('UPDATE marks SET note = ? WHERE tx = ?', [`w${worker}`, order[0]])
      locked()
      await Promise.all(bothLocked)
      try {
        await m.query('UPDATE marks SET note = ? WHERE tx = ?', [`w${worker}`, order[1]])
      } catch (error) {
        if (!swallow) throw error
      }
    })
  return Promise.allSettled([run(0, ['r1', 'r2'], firstLocked), run(1, ['r2', 'r1'], secondLocked)])
}
