/**
 * The commit of a distributed transaction over PostgreSQL and each target (PostgreSQL, MariaDB):
 * what commits, what rolls back, what is prepared meanwhile. Faults at and around the decision are
 * in commit-faults.test.ts.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import {
  mariadbTarget,
  postgresTarget,
  preparedIn,
  sessionId,
  type Target,
  targetTest,
  threeDatabases,
} from '../../harness/commit-targets.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared } from '../../harness/fixture.js'
import { startPostgres } from '../../harness/test-databases.js'
import {
  isOutcomeUnknownError,
  isPreparedTransactionsDisabledError,
  isTransactionRolledBackError,
  isTransactionStateError,
  parseXid,
} from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

const servers = serversForFile()
const { fixture } = servers
const targets: Target[] = [postgresTarget(servers), mariadbTarget(servers)]

for (const target of targets) {
  const it = (title: string, body: () => Promise<void>) => targetTest(target, title, body)

  describe(`PostgreSQL + ${target.name}`, () => {
    if (target.name === 'MariaDB') {
      it('the server is recognised as MariaDB', async () => {
        const m1 = await target.database('m1')
        // mysqlDatabase and mariadbDatabase both tell MySQL from MariaDB.
        const flavoured = m1.db as unknown as { flavour(): Promise<string> }
        assert.equal(await flavoured.flavour(), 'mariadb')
      })
    }

    it('a commit is visible in every database and leaves nothing prepared', async () => {
      const { a, b, c, coordinator } = await threeDatabases(servers, target)
      const value = await coordinator.transaction(
        { a: a.db, b: b.db, c: c.db },
        async (branches) => {
          await branches.a.query(`INSERT INTO marks VALUES ('t1', 'a')`)
          await branches.b.query(target.sql('INSERT INTO marks VALUES (?, ?)'), ['t1', 'b'])
          await branches.c.query(target.sql('INSERT INTO marks VALUES (?, ?)'), ['t1', 'c'])
          return 42
        },
      )
      assert.equal(value, 42)
      for (const database of [a, b, c]) assert.deepEqual(await database.marks(), ['t1'])
      assert.deepEqual(await preparedIn(a, b, c), [])
      await coordinator.close()
      assert.deepEqual(
        await a.query('SELECT gtrid FROM txkit_decision'),
        [],
        'decision rows of finished transactions are deleted',
      )
    })

    it('the decision database commits in one phase and the others are prepared in parallel', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      const seen: Array<{ step: string; when: string; db?: string; prepared?: string[] }> = []
      const coordinator = fixture.coordinator({
        decisionLog: a.db,
        onStep: async (event) => {
          const db = event.branch?.names[0]
          if (event.step === 'decision' && event.when === 'before') {
            seen.push({ step: 'decision', when: 'before', prepared: await preparedIn(a, b, c) })
          } else {
            seen.push({ step: event.step, when: event.when, ...(db && { db }) })
          }
        },
      })
      const tx = await coordinator.begin({ a: a.db, b: b.db, c: c.db })
      await tx.branches.a.query(`INSERT INTO marks VALUES ('t2', 'a')`)
      await tx.branches.b.query(`INSERT INTO marks VALUES ('t2', 'b')`)
      const result = await tx.commit()
      const decision = seen.find((event) => event.step === 'decision')
      assert.equal(decision?.prepared?.length, 2, 'b and c prepared; a (the decision database) not')
      for (const xid of decision?.prepared ?? []) {
        const parsed = parseXid(xid, 'txkit')
        assert.equal(parsed.kind, 'decision')
        assert.equal((parsed as { gtrid: string }).gtrid, result.gtrid)
      }
      assert.deepEqual(
        result.branches.map((branch) => [
          branch.names[0],
          branch.state,
          decision?.prepared?.includes(branch.xid) ?? false,
        ]),
        [
          ['a', 'committed', false],
          ['b', 'committed', true],
          ['c', 'committed', true],
        ],
      )
      assert.deepEqual(result.pending, [])
      assert.deepEqual(
        seen
          .filter((event) => event.step !== 'decision')
          .map((event) => `${event.when}-${event.step}-${event.db}`)
          .sort(),
        [
          'after-commit-b',
          'after-commit-c',
          'after-prepare-b',
          'after-prepare-c',
          'before-commit-b',
          'before-commit-c',
          'before-prepare-b',
          'before-prepare-c',
        ],
      )
      assert.deepEqual(await b.marks(), ['t2'])
      assert.deepEqual(await preparedIn(a, b, c), [])
    })

    it(`a decision log on ${target.name}: its branch commits in one phase, the other is prepared`, async () => {
      const p = await postgresTarget(servers).database('p')
      const d = await target.database('d')
      let preparedAtDecision: string[] = []
      const coordinator = fixture.coordinator({
        decisionLog: d.db,
        onStep: async (event) => {
          if (event.step === 'decision' && event.when === 'before') {
            preparedAtDecision = await preparedIn(d, p)
          }
        },
      })
      await coordinator.createDecisionLog()
      const result = await coordinator.begin({ p: p.db, d: d.db }).then(async (tx) => {
        await tx.branches.p.query(`INSERT INTO marks VALUES ('t1', 'p')`)
        await tx.branches.d.query(target.sql('INSERT INTO marks VALUES (?, ?)'), ['t1', 'd'])
        return tx.commit()
      })
      assert.equal(
        preparedAtDecision.length,
        1,
        'only the branch outside the decision database is prepared',
      )
      assert.equal(preparedAtDecision[0], result.branches[0]?.xid)
      const parsed = parseXid(preparedAtDecision[0] ?? '', 'txkit')
      assert.equal(parsed.kind, 'decision')
      assert.equal((parsed as { gtrid: string }).gtrid, result.gtrid)
      assert.deepEqual(await p.marks(), ['t1'])
      assert.deepEqual(await d.marks(), ['t1'])
      assert.deepEqual(await preparedIn(p, d), [])
    })

    it(`two databases on one ${target.name} server are two branches with distinct XIDs`, async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      let preparedAtDecision: string[] = []
      const coordinator = fixture.coordinator({
        decisionLog: a.db,
        onStep: async (event) => {
          if (event.step === 'decision' && event.when === 'before') {
            preparedAtDecision = await preparedIn(b, c)
          }
        },
      })
      await coordinator.transaction({ p: a.db, m1: b.db, m2: c.db }, async ({ p, m1, m2 }) => {
        await p.query(`INSERT INTO marks VALUES ('t2', 'p')`)
        await m1.query(`INSERT INTO marks VALUES ('t2', 'm1')`)
        await m2.query(`INSERT INTO marks VALUES ('t2', 'm2')`)
      })
      assert.equal(preparedAtDecision.length, 2)
      assert.deepEqual(
        preparedAtDecision.map((xid) => (parseXid(xid, 'txkit') as { index: number }).index).sort(),
        [1, 2],
      )
      for (const database of [a, b, c]) assert.deepEqual(await database.marks(), ['t2'])
      assert.deepEqual(await preparedIn(a, b, c), [])
    })

    it('a throw inside rolls back everywhere, leaves nothing prepared and rethrows', async () => {
      const { a, b, c, coordinator } = await threeDatabases(servers, target)
      const failure = new Error('business rule broken')
      await assert.rejects(
        coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
          await a.query(`INSERT INTO marks VALUES ('t3', 'a')`)
          await b.query(`INSERT INTO marks VALUES ('t3', 'b')`)
          await c.query(`INSERT INTO marks VALUES ('t3', 'c')`)
          throw failure
        }),
        (error) => error === failure,
      )
      for (const database of [a, b, c]) assert.deepEqual(await database.marks(), [])
      assert.deepEqual(await preparedIn(a, b, c), [])
      assert.deepEqual(await a.query('SELECT gtrid FROM txkit_decision'), [])
    })

    for (const k of [0, 1, 2]) {
      it(`a failure at the prepare of branch ${k} rolls back every branch and says so`, async () => {
        const { a, b, c } = await threeDatabases(servers, target)
        // The decision database's branch is never prepared: put it last so that k = 0, 1 are
        // prepared branches, and with the decision log elsewhere k = 2 is too.
        const injected = new Error(`injected failure at prepare ${k}`)
        const coordinator = fixture.coordinator({
          decisionLog: a.db,
          onStep: (event) => {
            if (event.step === 'prepare' && event.when === 'before' && event.branch?.index === k) {
              throw injected
            }
          },
        })
        const x = k === 2 ? await target.database('x') : undefined
        const dbs = x ? { b: b.db, c: c.db, x: x.db } : { b: b.db, c: c.db, a: a.db }
        await assert.rejects(
          coordinator.transaction(dbs, async (branches) => {
            for (const branch of Object.values(branches)) {
              await branch.query(`INSERT INTO marks VALUES ('t4', 'x')`)
            }
          }),
          (error: unknown) =>
            isTransactionRolledBackError(error) &&
            error.cause === injected &&
            /rolled back: a branch failed before the decision: injected failure/.test(
              error.message,
            ) &&
            error.branches.every((branch) => branch.state === 'rolled-back'),
        )
        for (const database of [a, b, c, ...(x ? [x] : [])]) {
          assert.deepEqual(await database.marks(), [])
        }
        assert.deepEqual(await preparedIn(a, b, c), [])
        assert.deepEqual(await a.query('SELECT gtrid FROM txkit_decision'), [])
      })
    }

    if (target.name === 'PostgreSQL') {
      it('a prepare the server refuses (temporary table) rolls back every branch', async () => {
        const { a, b, c, coordinator } = await threeDatabases(servers, target)
        await assert.rejects(
          coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
            await a.query(`INSERT INTO marks VALUES ('t5', 'a')`)
            await b.query(`INSERT INTO marks VALUES ('t5', 'b')`)
            await c.query('CREATE TEMPORARY TABLE scratch (x int)')
            await c.query(`INSERT INTO marks VALUES ('t5', 'c')`)
          }),
          (error: unknown) =>
            isTransactionRolledBackError(error) &&
            (error.cause as { code?: string }).code === '0A000',
        )
        for (const database of [a, b, c]) assert.deepEqual(await database.marks(), [])
        assert.deepEqual(await preparedIn(a, b, c), [])
      })

      // A failed statement aborts a PostgreSQL transaction; on MariaDB only the statement fails.
      it('a statement error swallowed inside a prepared branch: PREPARE answers ROLLBACK, nothing commits', async () => {
        const { a, b, c, coordinator } = await threeDatabases(servers, target)
        await assert.rejects(
          coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
            await a.query(`INSERT INTO marks VALUES ('t6', 'a')`)
            await c.query(`INSERT INTO marks VALUES ('t6', 'c')`)
            await b.query(`INSERT INTO marks VALUES ('t6', 'b')`)
            await b.query(`INSERT INTO marks VALUES ('t6', 'again')`).catch(() => 'swallowed')
          }),
          (error: unknown) =>
            isTransactionRolledBackError(error) &&
            /rolled back branch "b" instead of preparing it/.test(error.message) &&
            error.branches.find((branch) => branch.names[0] === 'b')?.state === 'rolled-back',
        )
        for (const database of [a, b, c]) assert.deepEqual(await database.marks(), [])
        assert.deepEqual(await preparedIn(a, b, c), [])
      })
    }

    it('a statement error swallowed inside the decision database branch: nothing commits', async () => {
      const { a, b, c, coordinator } = await threeDatabases(servers, target)
      await assert.rejects(
        coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
          await b.query(`INSERT INTO marks VALUES ('t7', 'b')`)
          await c.query(`INSERT INTO marks VALUES ('t7', 'c')`)
          await a.query(`INSERT INTO marks VALUES ('t7', 'a')`)
          await a.query('SELECT 1/0').catch(() => 'swallowed')
        }),
        (error: unknown) => isTransactionRolledBackError(error),
      )
      for (const database of [a, b, c]) assert.deepEqual(await database.marks(), [])
      assert.deepEqual(await preparedIn(a, b, c), [])
      assert.deepEqual(await a.query('SELECT gtrid FROM txkit_decision'), [])
    })

    it('the same database named twice is one branch on one connection', async () => {
      const { a, b } = await threeDatabases(servers, target)
      const sameAgain = await target.reopen(b, 'b-again')
      let preparedAtDecision: string[] = []
      const coordinator = fixture.coordinator({
        decisionLog: a.db,
        onStep: async (event) => {
          if (event.step === 'decision' && event.when === 'before') {
            preparedAtDecision = await b.prepared()
          }
        },
      })
      const result = await coordinator.transaction(
        { orders: b.db, ledger: b.db, again: sameAgain.db, a: a.db },
        async (branches, tx) => {
          assert.equal(branches.orders, branches.ledger)
          assert.equal(branches.orders, branches.again)
          assert.deepEqual(branches.orders.names, ['orders', 'ledger', 'again'])
          const first = await sessionId(target, branches.orders)
          const second = await sessionId(target, branches.again)
          assert.equal(first, second)
          await branches.orders.query(`INSERT INTO marks VALUES ('t9', 'orders')`)
          return tx.gtrid
        },
      )
      assert.equal(
        preparedAtDecision.length,
        1,
        'one prepared branch for the database named three times',
      )
      assert.match(preparedAtDecision[0] ?? '', new RegExp(`^${result.replace('.', '\\.')}\\.2\\.`))
      assert.deepEqual(await b.marks(), ['t9'])
    })

    it('the decision log elsewhere: the decision is an insert of its own', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      let rowsAtCommit: unknown[] = []
      const observed = fixture.coordinator({
        decisionLog: a.db,
        onStep: async (event) => {
          if (event.step === 'commit' && event.when === 'before') {
            rowsAtCommit = (await a.pool.query('SELECT outcome, participants FROM txkit_decision'))
              .rows
          }
        },
      })
      const result = await observed.transaction(
        { debit: b.db, credit: c.db },
        async ({ debit, credit }) => {
          await debit.query(`INSERT INTO marks VALUES ('t10', 'b')`)
          await credit.query(`INSERT INTO marks VALUES ('t10', 'c')`)
          return 'ok'
        },
      )
      assert.equal(result, 'ok')
      assert.equal(rowsAtCommit.length, 1)
      assert.deepEqual(
        rowsAtCommit[0],
        { outcome: 'C', participants: '["b","c"]' },
        'stable names, not the keys',
      )
      assert.deepEqual(await b.marks(), ['t10'])
      assert.deepEqual(await c.marks(), ['t10'])
      assert.deepEqual(await preparedIn(b, c), [])
    })

    it(`sequential protocol: seed-format XIDs over PostgreSQL and ${target.name}`, async () => {
      const { a: p, b: m1 } = await threeDatabases(servers, target)
      const preparedSeen: string[] = []
      const coordinator = fixture.coordinator({
        protocol: 'sequential',
        prefix: 'sxr',
        onStep: async (event) => {
          if (event.step === 'commit' && event.when === 'before' && event.branch?.index === 0) {
            preparedSeen.push(...(await p.prepared()), ...(await m1.prepared()))
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
      assert.deepEqual(await p.marks(), ['t6'])
      assert.deepEqual(await m1.marks(), ['t6'])
      assert.deepEqual(await preparedIn(p, m1), [])
    })

    it('sequential protocol: a failure at the second prepare rolls back the first', async () => {
      const { a: p, b: m1 } = await threeDatabases(servers, target)
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
      assert.deepEqual(await p.marks(), [])
      assert.deepEqual(await m1.marks(), [])
      assert.deepEqual(await preparedIn(p, m1), [])
    })
  })

  describe(`controlled form (PostgreSQL + ${target.name})`, () => {
    it('await using rolls back when the scope is left without a commit', async () => {
      const { a, b, coordinator } = await threeDatabases(servers, target)
      {
        await using tx = await coordinator.begin({ a: a.db, b: b.db })
        await tx.branches.a.query(`INSERT INTO marks VALUES ('t15', 'a')`)
        await tx.branches.b.query(`INSERT INTO marks VALUES ('t15', 'b')`)
      }
      assert.deepEqual(await a.marks(), [])
      assert.deepEqual(await b.marks(), [])
      assert.equal(a.pool.totalCount - a.pool.idleCount, 0, 'connections returned')
      assert.deepEqual(await preparedIn(a, b), [])
    })

    it('commit, then any further use is a TransactionStateError', async () => {
      const { a, b, coordinator } = await threeDatabases(servers, target)
      await using tx = await coordinator.begin({ a: a.db, b: b.db })
      await tx.branches.b.query(`INSERT INTO marks VALUES ('t16', 'b')`)
      const result = await tx.commit()
      assert.equal(tx.status, 'committed')
      assert.equal(result.gtrid, tx.gtrid)
      await assert.rejects(tx.commit(), isTransactionStateError)
      await assert.rejects(tx.branches.a.query('SELECT 1'), isTransactionStateError)
      await assert.rejects(tx.rollback(), isTransactionStateError)
      assert.deepEqual(await b.marks(), ['t16'])
    })

    it('catching outcome-unknown inside the scope never rolls the prepared branches back', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      const viaProxy = await fixture.pgThroughProxy(a.url, 'a')
      const coordinator = fixture.coordinator({
        decisionLog: viaProxy.db,
        onStep: (event) => {
          if (event.step === 'decision' && event.when === 'before')
            viaProxy.proxy.cutAfter('COMMIT')
        },
      })
      let status = ''
      // Callback form: the user commits inside and swallows the error.
      await coordinator.transaction({ a: viaProxy.db, b: b.db, c: c.db }, async (branches, tx) => {
        await branches.b.query(`INSERT INTO marks VALUES ('t17', 'b')`)
        await tx.commit().catch((error: unknown) => {
          assert.ok(isOutcomeUnknownError(error))
        })
        status = tx.status
      })
      assert.equal(status, 'outcome-unknown')
      // Controlled form with await using: leaving the scope does nothing either.
      {
        await using tx = await coordinator.begin({ a: viaProxy.db, c: c.db })
        await tx.branches.c.query(`INSERT INTO marks VALUES ('t18', 'c')`)
        await tx.commit().catch(() => {})
        await assert.rejects(
          tx.rollback(),
          (error: unknown) =>
            isTransactionStateError(error) && /Recovery decides/.test(error.message),
        )
      }
      const prepared = await preparedIn(b, c)
      assert.equal(prepared.length, 3, 'b and c of the first, c of the second: all still prepared')
      for (const database of [b, c]) {
        for (const xid of await database.prepared()) await database.rollbackPrepared(xid)
      }
      assert.deepEqual(await preparedIn(b, c), [])
    })
  })

  if (target.name === 'PostgreSQL') {
    describe('pool checkout', () => {
      it('concurrent transactions over pools of one connection never deadlock on checkout', async () => {
        const { a, b } = await threeDatabases(servers, target)
        const small = [a, b].map((database, index) => {
          const one = new pg.Pool({ connectionString: database.url, max: 1 })
          one.on('error', () => {})
          return { one, db: pgDatabase(one, { name: index === 0 ? 'a' : 'b' }) }
        })
        const [x, y] = small as [(typeof small)[number], (typeof small)[number]]
        const coordinator = fixture.coordinator({ decisionLog: x.db })
        try {
          // Opposite key orders: checkouts requested one pool at a time would form a cycle.
          await Promise.all(
            Array.from({ length: 30 }, (_, i) =>
              coordinator.transaction(
                i % 2 ? { x: x.db, y: y.db } : { y: y.db, x: x.db },
                async (branches) => {
                  await branches.x.query('INSERT INTO marks VALUES ($1, $2)', [`p${i}`, 'x'])
                  await branches.y.query('INSERT INTO marks VALUES ($1, $2)', [`p${i}`, 'y'])
                },
              ),
            ),
          )
          assert.equal((await a.marks()).length, 30)
          assert.equal((await b.marks()).length, 30)
        } finally {
          await coordinator.close()
          await Promise.all(small.map(({ one }) => one.end()))
        }
      })
    })

    describe('PostgreSQL with max_prepared_transactions = 0', () => {
      test('is reported with the setting to change, and the other database commits nothing', async () => {
        const disabled = await startPostgres({ maxPreparedTransactions: 0 })
        const { a, b } = await threeDatabases(servers, target)
        const off = fixture.pg(await disabled.createDatabase(), 'off')
        await off.pool.query('CREATE TABLE marks (tx text PRIMARY KEY, note text)')
        const coordinator = fixture.coordinator({ decisionLog: a.db })
        await assert.rejects(
          coordinator.transaction({ b: b.db, off: off.db }, async ({ b, off }) => {
            await b.query(`INSERT INTO marks VALUES ('t14', 'b')`)
            await off.query(`INSERT INTO marks VALUES ('t14', 'off')`)
          }),
          (error: unknown) =>
            isTransactionRolledBackError(error) &&
            isPreparedTransactionsDisabledError(error.cause) &&
            error.cause.database === 'off' &&
            /max_prepared_transactions = 0.*Set max_prepared_transactions > 0.*restart/.test(
              error.cause.message,
            ),
        )
        assert.deepEqual(await b.marks(), [])
        assert.deepEqual((await off.pool.query('SELECT tx FROM marks')).rows, [])
        assert.deepEqual(await pgPrepared(off.pool), [])
        assert.deepEqual(await b.prepared(), [])
      })
    })
  }
}
