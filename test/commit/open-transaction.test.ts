import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import { Fixture, pgMarks, pgPrepared, xaRecover } from '../../harness/fixture.js'
import type { PostgresServer } from '../../harness/postgres-server.js'
import { runCrashCoordinator } from '../../harness/run-crash-coordinator.js'
import {
  startPostgres,
  stopTestServers,
  type TestServer,
  testMariadb,
} from '../../harness/test-databases.js'
import {
  isConfigurationError,
  isTransactionRolledBackError,
  isTransactionStateError,
  parseXid,
  recover,
} from '../../src/index.js'

const fixture = new Fixture()
let postgres: TestServer
let mariadb: TestServer | undefined

before(async () => {
  // Its own server, logging every statement, so tests can assert what reached it.
  postgres = await startPostgres({ logStatements: true })
  mariadb = await testMariadb()
})
after(async () => {
  await fixture.close()
  await stopTestServers()
})

const pgMember = (name: string) => fixture.markedPg(postgres, name)

const marks = pgMarks

function serverLog(): string {
  return (postgres.owned as PostgresServer).log()
}

describe('open transactions: databases join after begin', () => {
  test('joined lazily, the same database under two names is one branch, all commit together', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const c = await pgMember('c')
    let preparedAtDecision: string[] = []
    const coordinator = fixture.coordinator({
      decisionLog: a.db,
      onStep: async (event) => {
        if (event.step === 'decision' && event.when === 'before') {
          preparedAtDecision = [...(await pgPrepared(b.pool)), ...(await pgPrepared(c.pool))]
        }
      },
    })
    await coordinator.createDecisionLog()
    await using tx = await coordinator.begin()
    const orders = await tx.join('orders', b.db)
    const again = await tx.join('sameOrders', b.db)
    assert.equal(orders, again)
    assert.deepEqual(orders.names, ['orders', 'sameOrders'])
    await orders.query(`INSERT INTO marks VALUES ('o1')`)
    await (await tx.join('ledger', c.db)).query(`INSERT INTO marks VALUES ('o1')`)
    await (await tx.join('log', a.db)).query(`INSERT INTO marks VALUES ('o1')`)
    const result = await tx.commit()
    assert.deepEqual(
      result.branches.map((branch) => [branch.names[0], branch.state]),
      [
        ['orders', 'committed'],
        ['ledger', 'committed'],
        ['log', 'committed'],
      ],
    )
    assert.equal(preparedAtDecision.length, 2, 'b and c prepared, a (the decision database) not')
    for (const xid of preparedAtDecision) {
      assert.equal((parseXid(xid, 'txkit') as { count: number }).count, 0, 'open: the count is 0')
    }
    for (const m of [a, b, c]) assert.deepEqual(await marks(m.pool), ['o1'])
  })

  for (const killAt of [
    { step: 'decision', when: 'before' },
    { step: 'decision', when: 'after' },
  ] as const) {
    test(`a coordinator of an open transaction killed ${killAt.when} its decision is recovered`, async () => {
      const a = await pgMember('a')
      const b = await pgMember('b')
      const c = await pgMember('c')
      await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
      const run = await runCrashCoordinator({
        databases: [b, c, a].map((m) => ({ name: m.name, kind: 'postgres' as const, url: m.url })),
        decisionLog: 'a',
        protocol: 'decision',
        prefix: 'open',
        marker: 'crashed',
        open: true,
        killAt,
      })
      assert.equal(run.signal, 'SIGKILL')
      const report = await recover({
        databases: [a.db, b.db, c.db],
        decisionLog: a.db,
        prefix: 'open',
        minAge: 0,
      })
      assert.deepEqual(report.malformed, [])
      assert.equal(
        report.transactions[0]?.action,
        killAt.when === 'after' ? 'committed' : 'rolled-back',
      )
      const expected = killAt.when === 'after' ? ['crashed'] : []
      for (const m of [a, b, c]) {
        assert.deepEqual(await marks(m.pool), expected)
        assert.deepEqual(await pgPrepared(m.pool), [])
      }
    })
  }

  test('join() is refused on a transaction begun with its databases, and open begin() on sequential', async () => {
    const a = await pgMember('a')
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await using tx = await coordinator.begin({ a: a.db })
    await assert.rejects(
      tx.join('again', a.db),
      (e: unknown) => isTransactionStateError(e) && /begun with its databases/.test(e.message),
    )
    const sequential = fixture.coordinator({ protocol: 'sequential' })
    await assert.rejects(
      sequential.begin(),
      (e: unknown) =>
        isConfigurationError(e) &&
        /sequential protocol takes no databases after begin/.test(e.message),
    )
    await using open = await coordinator.begin()
    await assert.rejects(
      open.join('bad', {} as typeof a.db),
      (e: unknown) => isConfigurationError(e) && /not a txkit database/.test(e.message),
    )
  })
})

describe('one branch commits in one phase', () => {
  test('PostgreSQL: no PREPARE reaches the server, no decision row is left', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await coordinator.createDecisionLog()
    for (const [label, db] of [
      ['elsewhere', b],
      ['decision database', a],
    ] as const) {
      const { gtrid } = await coordinator.begin({ only: db.db }).then(async (tx) => {
        await tx.branches.only.query(`INSERT INTO marks VALUES ($1)`, [label])
        return tx.commit()
      })
      assert.deepEqual(await marks(db.pool), [label])
      assert.doesNotMatch(
        serverLog(),
        new RegExp(`PREPARE TRANSACTION '${gtrid.replace('.', '\\.')}`),
      )
      await coordinator.close()
      assert.equal(
        (await a.pool.query('SELECT 1 FROM txkit_decision WHERE gtrid = $1', [gtrid])).rowCount,
        0,
      )
    }
    // The same server does log PREPARE when two databases take part.
    const { gtrid } = await coordinator.transaction({ a: a.db, b: b.db }, async ({ b }, tx) => {
      await b.query(`INSERT INTO marks VALUES ('two')`)
      return tx
    })
    assert.match(serverLog(), new RegExp(`PREPARE TRANSACTION '${gtrid.replace('.', '\\.')}`))
  })

  test('PostgreSQL: a swallowed error makes the one-phase COMMIT a rollback, reported as such', async () => {
    const a = await pgMember('a')
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await assert.rejects(
      coordinator.transaction({ a: a.db }, async ({ a }) => {
        await a.query(`INSERT INTO marks VALUES ('x')`)
        await a.query('SELECT 1/0').catch(() => 'swallowed')
      }),
      (e: unknown) =>
        isTransactionRolledBackError(e) && /rolled the transaction back/.test(e.message),
    )
    assert.deepEqual(await marks(a.pool), [])
  })

  test('MariaDB: XA COMMIT ONE PHASE, and a rollback-only branch rolls back cleanly', async (t) => {
    if (mariadb === undefined) return t.skip('no MariaDB')
    const url = await mariadb.createDatabase()
    const m = await fixture.mysql(url, 'm')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY, n int) ENGINE=InnoDB')
    await m.pool.query(`INSERT INTO marks VALUES ('r1', 0), ('r2', 0)`)
    const coordinator = fixture.coordinator({ protocol: 'sequential' })
    await coordinator.transaction({ m: m.db }, async ({ m }) => {
      await m.query(`INSERT INTO marks VALUES ('one', 1)`)
    })
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>(
      `SELECT tx FROM marks WHERE tx = 'one'`,
    )
    assert.equal(rows.length, 1)
    assert.deepEqual(await xaRecover(m.pool), [])
    // Deadlock victim swallowing its error: XA END fails (rollback-only), XA ROLLBACK follows.
    let gate: () => void = () => {}
    const locked = new Promise<void>((resolve) => (gate = resolve))
    let other: () => void = () => {}
    const otherLocked = new Promise<void>((resolve) => (other = resolve))
    const results = await Promise.allSettled([
      coordinator.transaction({ m: m.db }, async ({ m }) => {
        await m.query(`UPDATE marks SET n = 1 WHERE tx = 'r1'`)
        gate()
        await otherLocked
        await m.query(`UPDATE marks SET n = 1 WHERE tx = 'r2'`).catch(() => 'swallowed')
      }),
      coordinator.transaction({ m: m.db }, async ({ m }) => {
        await m.query(`UPDATE marks SET n = 2 WHERE tx = 'r2'`)
        other()
        await locked
        await m.query(`UPDATE marks SET n = 2 WHERE tx = 'r1'`).catch(() => 'swallowed')
      }),
    ])
    const rejected = results.filter((r) => r.status === 'rejected')
    assert.equal(rejected.length, 1, JSON.stringify(results.map((r) => r.status)))
    assert.ok(isTransactionRolledBackError((rejected[0] as PromiseRejectedResult).reason))
    assert.deepEqual(await xaRecover(m.pool), [])
    const [after] = await m.pool.query<mysql.RowDataPacket[]>(
      `SELECT n FROM marks WHERE tx IN ('r1', 'r2') ORDER BY tx`,
    )
    const winner = results.findIndex((r) => r.status === 'fulfilled') + 1
    assert.deepEqual(
      after.map((row) => row.n),
      [winner, winner],
    )
  })
})
