import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { Fixture, pgPrepared } from '../harness/fixture.js'
import {
  startPostgres,
  stopTestServers,
  type TestServer,
  testPostgres,
} from '../harness/test-databases.js'
import {
  isDecisionLogMissingError,
  isOutcomeUnknownError,
  isPreparedTransactionsDisabledError,
  isTransactionRolledBackError,
  isTransactionStateError,
  parseXid,
  recover,
} from '../src/index.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'

let server: TestServer
const fixture = new Fixture()

before(async () => {
  server = await testPostgres()
})
after(async () => {
  await fixture.close()
  await stopTestServers()
})

/** Three fresh databases with a `marks` table each; `a` holds the decision log. */
async function threeDatabases(options: { protocol?: 'decision' | 'sequential' } = {}) {
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => server.createDatabase()))
  const dbs = {
    a: fixture.pg(a ?? '', 'a'),
    b: fixture.pg(b ?? '', 'b'),
    c: fixture.pg(c ?? '', 'c'),
  }
  for (const { pool } of Object.values(dbs)) {
    await pool.query('CREATE TABLE marks (tx text PRIMARY KEY, note text)')
  }
  const steps: string[] = []
  const coordinator = fixture.coordinator({
    decisionLog: dbs.a.db,
    protocol: options.protocol ?? 'decision',
  })
  await coordinator.createDecisionLog()
  return { ...dbs, coordinator, steps }
}

/**
 * Database `a` reached through a proxy that, at the decision, lets the next chunk containing
 * `trigger` reach the server and then cuts the line; and a coordinator whose decision log it is.
 */
async function cuttingAtTheDecision(pool: pg.Pool, trigger: string) {
  const viaProxy = await fixture.pgThroughProxy(
    (pool.options as { connectionString: string }).connectionString,
    'a',
  )
  const coordinator = fixture.coordinator({
    decisionLog: viaProxy.db,
    onStep: (event) => {
      if (event.step === 'decision' && event.when === 'before') viaProxy.proxy.cutAfter(trigger)
    },
  })
  return { viaProxy, proxy: viaProxy.proxy, coordinator }
}

async function marks(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => row.tx)
}

async function decisionRows(pool: pg.Pool): Promise<Array<{ gtrid: string; outcome: string }>> {
  const { rows } = await pool.query('SELECT gtrid, outcome FROM txkit_decision ORDER BY gtrid')
  return rows
}

describe('PostgreSQL + PostgreSQL', () => {
  test('a commit is visible in every database and leaves nothing prepared', async () => {
    const { a, b, c, coordinator } = await threeDatabases()
    const value = await coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async (branches) => {
      await branches.a.query(`INSERT INTO marks VALUES ('t1', 'a')`)
      await branches.b.query('INSERT INTO marks VALUES ($1, $2)', ['t1', 'b'])
      await branches.c.query('INSERT INTO marks VALUES ($1, $2)', ['t1', 'c'])
      return 42
    })
    assert.equal(value, 42)
    for (const { pool } of [a, b, c]) {
      assert.deepEqual(await marks(pool), ['t1'])
      assert.deepEqual(await pgPrepared(pool), [])
    }
    await coordinator.close()
    assert.deepEqual(
      await decisionRows(a.pool),
      [],
      'decision rows of finished transactions are deleted',
    )
  })

  test('the decision database commits in one phase and the others are prepared in parallel', async () => {
    const { a, b, c } = await threeDatabases()
    const seen: Array<{ step: string; when: string; db?: string; prepared?: string[] }> = []
    const coordinator = fixture.coordinator({
      decisionLog: a.db,
      onStep: async (event) => {
        const db = event.branch?.names[0]
        if (event.step === 'decision' && event.when === 'before') {
          seen.push({
            step: 'decision',
            when: 'before',
            prepared: [
              ...(await pgPrepared(b.pool)),
              ...(await pgPrepared(c.pool)),
              ...(await pgPrepared(a.pool)),
            ],
          })
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
  })

  test('a throw inside rolls back everywhere, leaves nothing prepared and rethrows', async () => {
    const { a, b, c, coordinator } = await threeDatabases()
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
    for (const { pool } of [a, b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
    assert.deepEqual(await decisionRows(a.pool), [])
  })

  for (const k of [0, 1, 2]) {
    test(`a failure at the prepare of branch ${k} rolls back every branch and says so`, async () => {
      const { a, b, c } = await threeDatabases()
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
      const dbs =
        k === 2 ? { b: b.db, c: c.db, x: (await other()).db } : { b: b.db, c: c.db, a: a.db }
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
      for (const { pool } of [a, b, c]) {
        assert.deepEqual(await marks(pool), [])
        assert.deepEqual(await pgPrepared(pool), [])
      }
      assert.deepEqual(await decisionRows(a.pool), [])
    })
  }

  async function other() {
    const db = fixture.pg(await server.createDatabase(), 'x')
    await db.pool.query('CREATE TABLE marks (tx text PRIMARY KEY, note text)')
    return db
  }

  test('a prepare the server refuses (temporary table) rolls back every branch', async () => {
    const { a, b, c, coordinator } = await threeDatabases()
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
        await a.query(`INSERT INTO marks VALUES ('t5', 'a')`)
        await b.query(`INSERT INTO marks VALUES ('t5', 'b')`)
        await c.query('CREATE TEMPORARY TABLE scratch (x int)')
        await c.query(`INSERT INTO marks VALUES ('t5', 'c')`)
      }),
      (error: unknown) =>
        isTransactionRolledBackError(error) && (error.cause as { code?: string }).code === '0A000',
    )
    for (const { pool } of [a, b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
  })

  test('a statement error swallowed inside a prepared branch: PREPARE answers ROLLBACK, nothing commits', async () => {
    const { a, b, c, coordinator } = await threeDatabases()
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
    for (const { pool } of [a, b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
  })

  test('a statement error swallowed inside the decision database branch: nothing commits', async () => {
    const { a, b, c, coordinator } = await threeDatabases()
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
        await b.query(`INSERT INTO marks VALUES ('t7', 'b')`)
        await c.query(`INSERT INTO marks VALUES ('t7', 'c')`)
        await a.query(`INSERT INTO marks VALUES ('t7', 'a')`)
        await a.query('SELECT 1/0').catch(() => 'swallowed')
      }),
      (error: unknown) => isTransactionRolledBackError(error),
    )
    for (const { pool } of [a, b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
    assert.deepEqual(await decisionRows(a.pool), [])
  })

  test('the decision session known dead before its COMMIT: rolled back everywhere, never "unknown"', async () => {
    const { a, b, c } = await threeDatabases()
    const coordinator = fixture.coordinator({
      decisionLog: a.db,
      onStep: async (event) => {
        if (event.step === 'decision' && event.when === 'before') {
          // Wait until txkit's session (the decision branch's, the last checked out of a) has
          // seen its end before the decision is taken.
          const branchSession = a.driver.connections.at(-1)
          const ended = new Promise<void>((resolve) => branchSession?.onLost?.(resolve))
          await a.pool.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`,
          )
          await ended
        }
      },
    })
    let caught: unknown
    await coordinator
      .transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
        await a.query(`INSERT INTO marks VALUES ('t8', 'a')`)
        await b.query(`INSERT INTO marks VALUES ('t8', 'b')`)
        await c.query(`INSERT INTO marks VALUES ('t8', 'c')`)
      })
      .catch((error: unknown) => {
        caught = error
      })
    assert.ok(isTransactionRolledBackError(caught), String(caught))
    assert.match(
      caught.message,
      /session of the decision database "a" was gone before its COMMIT was sent/,
    )
    assert.doesNotMatch(caught.message, /stay prepared/)
    assert.deepEqual(
      caught.branches.map((branch) => [branch.names[0], branch.state]),
      [
        ['a', 'rolled-back'],
        ['b', 'rolled-back'],
        ['c', 'rolled-back'],
      ],
    )
    for (const { pool } of [a, b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
    assert.deepEqual(
      await decisionRows(a.pool),
      [],
      "the uncommitted 'C' row died with its session",
    )
  })

  test('a connection cut while the decision COMMIT is in flight: outcome unknown, prepared branches left alone', async () => {
    const { a, b, c } = await threeDatabases()
    const { viaProxy, proxy, coordinator } = await cuttingAtTheDecision(a.pool, 'COMMIT')
    let caught: unknown
    await coordinator
      .transaction({ a: viaProxy.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
        await a.query(`INSERT INTO marks VALUES ('t9', 'a')`)
        await b.query(`INSERT INTO marks VALUES ('t9', 'b')`)
        await c.query(`INSERT INTO marks VALUES ('t9', 'c')`)
      })
      .catch((error: unknown) => {
        caught = error
      })
    assert.equal(proxy.cuts, 1)
    assert.ok(isOutcomeUnknownError(caught), String(caught))
    assert.match(
      caught.message,
      /connection to the decision database "a" was lost during its COMMIT/,
    )
    assert.match(caught.message, /branch\(es\) "b", "c" stay prepared/)
    assert.match(caught.message, /branch\(es\) "a" were cut off before their step was confirmed/)
    assert.deepEqual(
      caught.branches.map((branch) => [branch.names[0], branch.state]),
      [
        ['a', 'unknown'],
        ['b', 'prepared'],
        ['c', 'prepared'],
      ],
    )
    const stillPrepared = [...(await pgPrepared(b.pool)), ...(await pgPrepared(c.pool))]
    assert.deepEqual(
      stillPrepared,
      caught.branches.slice(1).map((branch) => branch.xid),
      'nothing was rolled back',
    )
    // The COMMIT reached the server: recovery follows the 'C' row it committed, all one way.
    const committed = (await marks(a.pool)).includes('t9')
    const report = await recover({ databases: [a.db, b.db, c.db], decisionLog: a.db, minAge: 0 })
    assert.equal(report.transactions[0]?.action, committed ? 'committed' : 'rolled-back')
    for (const { pool } of [a, b, c]) {
      assert.deepEqual(await marks(pool), committed ? ['t9'] : [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
  })

  test('a connection cut after a standalone decision was sent: outcome unknown, recovery follows the row', async () => {
    const { a, b, c } = await threeDatabases()
    const { proxy, coordinator } = await cuttingAtTheDecision(a.pool, 'txkit_decision')
    let caught: unknown
    await coordinator
      .transaction({ b: b.db, c: c.db }, async ({ b, c }) => {
        await b.query(`INSERT INTO marks VALUES ('t19', 'b')`)
        await c.query(`INSERT INTO marks VALUES ('t19', 'c')`)
      })
      .catch((error: unknown) => {
        caught = error
      })
    assert.equal(proxy.cuts, 1)
    assert.ok(isOutcomeUnknownError(caught), String(caught))
    assert.match(caught.message, /lost while recording the decision/)
    assert.deepEqual(
      caught.branches.map((branch) => branch.state),
      ['prepared', 'prepared'],
    )
    assert.equal((await pgPrepared(b.pool)).length + (await pgPrepared(c.pool)).length, 2)
    // Whatever the server did with the cut INSERT (it usually commits it), recovery follows the row.
    const gtrid = caught.gtrid
    const decided = (await decisionRows(a.pool)).find((row) => row.gtrid === gtrid)
    const report = await recover({ databases: [a.db, b.db, c.db], decisionLog: a.db, minAge: 0 })
    assert.equal(
      report.transactions[0]?.action,
      decided?.outcome === 'C' ? 'committed' : 'rolled-back',
    )
    const expected = decided?.outcome === 'C' ? ['t19'] : []
    assert.deepEqual(await marks(b.pool), expected)
    assert.deepEqual(await marks(c.pool), expected)
    assert.deepEqual([...(await pgPrepared(b.pool)), ...(await pgPrepared(c.pool))], [])
  })

  test('the same database named twice is one branch on one connection', async () => {
    const { a, b } = await threeDatabases()
    const sameAgain = fixture.pg(
      (b.pool.options as { connectionString: string }).connectionString,
      'b-again',
    )
    let preparedAtDecision: string[] = []
    const coordinator = fixture.coordinator({
      decisionLog: a.db,
      onStep: async (event) => {
        if (event.step === 'decision' && event.when === 'before') {
          preparedAtDecision = await pgPrepared(b.pool)
        }
      },
    })
    const result = await coordinator.transaction(
      { orders: b.db, ledger: b.db, again: sameAgain.db, a: a.db },
      async (branches, tx) => {
        assert.equal(branches.orders, branches.ledger)
        assert.equal(branches.orders, branches.again)
        assert.deepEqual(branches.orders.names, ['orders', 'ledger', 'again'])
        const [{ pid: first } = { pid: 0 }] = await branches.orders.query<{ pid: number }>(
          'SELECT pg_backend_pid() AS pid',
        )
        const [{ pid: second } = { pid: 0 }] = await branches.again.query<{ pid: number }>(
          'SELECT pg_backend_pid() AS pid',
        )
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
    assert.deepEqual(await marks(b.pool), ['t9'])
  })

  test('the decision log elsewhere: the decision is an insert of its own', async () => {
    const { a, b, c } = await threeDatabases()
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
    assert.deepEqual(await marks(b.pool), ['t10'])
    assert.deepEqual(await marks(c.pool), ['t10'])
    assert.deepEqual([...(await pgPrepared(b.pool)), ...(await pgPrepared(c.pool))], [])
  })

  test('an abort decision recorded first (by recovery) wins: rolled back', async () => {
    const { a, b, c } = await threeDatabases()
    const coordinator = fixture.coordinator({
      decisionLog: a.db,
      onStep: async (event) => {
        if (event.step === 'decision' && event.when === 'before') {
          await a.pool.query(
            `INSERT INTO txkit_decision (gtrid, outcome, participants) VALUES ($1, 'A', '[]')`,
            [event.gtrid],
          )
        }
      },
    })
    await assert.rejects(
      coordinator.transaction({ b: b.db, c: c.db }, async ({ b, c }) => {
        await b.query(`INSERT INTO marks VALUES ('t11', 'b')`)
        await c.query(`INSERT INTO marks VALUES ('t11', 'c')`)
      }),
      (error: unknown) =>
        isTransactionRolledBackError(error) && /already decided to abort/.test(error.message),
    )
    for (const { pool } of [b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
  })

  test('past maxTransactionDuration a separate decision is refused by the database clock', async () => {
    const { a, b, c } = await threeDatabases()
    const coordinator = fixture.coordinator({ decisionLog: a.db, maxTransactionDuration: 50 })
    const slowly = async (branches: Record<string, { query(sql: string): Promise<unknown> }>) => {
      for (const branch of Object.values(branches))
        await branch.query(`INSERT INTO marks VALUES ('t12', 'x')`)
      await new Promise((resolve) => setTimeout(resolve, 120))
    }
    await assert.rejects(
      coordinator.transaction({ b: b.db, c: c.db }, slowly),
      (error: unknown) =>
        isTransactionRolledBackError(error) &&
        /past the transaction's deadline/.test(error.message),
    )
    for (const { pool } of [b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
    // When the decision database takes part, its uncommitted 'C' row (written at BEGIN) blocks
    // any abort decision for the whole transaction, so no deadline is needed there.
    await coordinator.transaction({ a: a.db, b: b.db }, slowly)
    assert.deepEqual(await marks(a.pool), ['t12'])
    assert.deepEqual(await marks(b.pool), ['t12'])
  })

  test('a missing decision table is a clear error and nothing commits', async () => {
    const { a, b, c } = await threeDatabases()
    await a.pool.query('DROP TABLE txkit_decision')
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    for (const dbs of [
      { b: b.db, c: c.db },
      { a: a.db, b: b.db },
    ]) {
      await assert.rejects(
        coordinator.transaction(dbs, async (branches) => {
          for (const branch of Object.values(branches))
            await branch.query(`INSERT INTO marks VALUES ('t13', 'x')`)
        }),
        (error: unknown) =>
          isTransactionRolledBackError(error) &&
          isDecisionLogMissingError(error.cause) &&
          /createDecisionLog\(\)/.test(error.cause.message),
      )
    }
    for (const { pool } of [b, c]) {
      assert.deepEqual(await marks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
    }
  })
  test('a decision table that cannot be created is a clear error naming the fix', async () => {
    const { a } = await threeDatabases()
    const role = `limited_${Math.random().toString(36).slice(2, 8)}`
    await a.pool.query(`CREATE ROLE ${role} LOGIN`)
    await a.pool.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC')
    const url = new URL((a.pool.options as { connectionString: string }).connectionString)
    url.username = role
    const limited = fixture.pg(url.toString(), 'limited')
    const coordinator = fixture.coordinator({
      decisionLog: { database: limited.db, table: 'ops.decisions' },
    })
    await assert.rejects(
      coordinator.createDecisionLog(),
      (error: unknown) =>
        isDecisionLogMissingError(error) &&
        error.database === 'limited' &&
        error.table === 'ops.decisions' &&
        /Could not create the decision table ops\.decisions.*permission denied.*Grant the CREATE privilege/.test(
          error.message,
        ),
    )
  })
})

describe('pool checkout', () => {
  test('concurrent transactions over pools of one connection never deadlock on checkout', async () => {
    const { a, b } = await threeDatabases()
    const small = [a, b].map(({ pool }, index) => {
      const one = new pg.Pool({
        connectionString: (pool.options as { connectionString: string }).connectionString,
        max: 1,
      })
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
      assert.equal((await marks(a.pool)).length, 30)
      assert.equal((await marks(b.pool)).length, 30)
    } finally {
      await coordinator.close()
      await Promise.all(small.map(({ one }) => one.end()))
    }
  })
})

describe('PostgreSQL with max_prepared_transactions = 0', () => {
  test('is reported with the setting to change, and the other database commits nothing', async () => {
    const disabled = await startPostgres({ maxPreparedTransactions: 0 })
    const { a, b } = await threeDatabases()
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
    assert.deepEqual(await marks(b.pool), [])
    assert.deepEqual(await marks(off.pool), [])
    assert.deepEqual(await pgPrepared(b.pool), [])
  })
})

describe('controlled form', () => {
  test('await using rolls back when the scope is left without a commit', async () => {
    const { a, b, coordinator } = await threeDatabases()
    {
      await using tx = await coordinator.begin({ a: a.db, b: b.db })
      await tx.branches.a.query(`INSERT INTO marks VALUES ('t15', 'a')`)
      await tx.branches.b.query(`INSERT INTO marks VALUES ('t15', 'b')`)
    }
    assert.deepEqual(await marks(a.pool), [])
    assert.deepEqual(await marks(b.pool), [])
    assert.equal(a.pool.totalCount - a.pool.idleCount, 0, 'connections returned')
  })

  test('commit, then any further use is a TransactionStateError', async () => {
    const { a, b, coordinator } = await threeDatabases()
    await using tx = await coordinator.begin({ a: a.db, b: b.db })
    await tx.branches.b.query(`INSERT INTO marks VALUES ('t16', 'b')`)
    const result = await tx.commit()
    assert.equal(tx.status, 'committed')
    assert.equal(result.gtrid, tx.gtrid)
    await assert.rejects(tx.commit(), isTransactionStateError)
    await assert.rejects(tx.branches.a.query('SELECT 1'), isTransactionStateError)
    await assert.rejects(tx.rollback(), isTransactionStateError)
    assert.deepEqual(await marks(b.pool), ['t16'])
  })

  test('catching outcome-unknown inside the scope never rolls the prepared branches back', async () => {
    const { a, b, c } = await threeDatabases()
    const { viaProxy, coordinator } = await cuttingAtTheDecision(a.pool, 'COMMIT')
    a.db = viaProxy.db
    let status = ''
    // Callback form: the user commits inside and swallows the error.
    await coordinator.transaction({ a: a.db, b: b.db, c: c.db }, async (branches, tx) => {
      await branches.b.query(`INSERT INTO marks VALUES ('t17', 'b')`)
      await tx.commit().catch((error: unknown) => {
        assert.ok(isOutcomeUnknownError(error))
      })
      status = tx.status
    })
    assert.equal(status, 'outcome-unknown')
    // Controlled form with await using: leaving the scope does nothing either.
    {
      await using tx = await coordinator.begin({ a: a.db, c: c.db })
      await tx.branches.c.query(`INSERT INTO marks VALUES ('t18', 'c')`)
      await tx.commit().catch(() => {})
      await assert.rejects(
        tx.rollback(),
        (error: unknown) =>
          isTransactionStateError(error) && /Recovery decides/.test(error.message),
      )
    }
    const prepared = [...(await pgPrepared(b.pool)), ...(await pgPrepared(c.pool))]
    assert.equal(prepared.length, 3, 'b and c of the first, c of the second: all still prepared')
    for (const xid of await pgPrepared(b.pool)) await b.pool.query(`ROLLBACK PREPARED '${xid}'`)
    for (const xid of await pgPrepared(c.pool)) await c.pool.query(`ROLLBACK PREPARED '${xid}'`)
  })
})
