/**
 * `acknowledge: 'decision'`: a commit returns once its decision is durable and its prepared
 * branches are committed in the background. Asserts on rows, prepared transactions and the
 * coordinator's counts, on PostgreSQL and MariaDB.
 */
import assert from 'node:assert/strict'
import { describe, type TestContext, test } from 'node:test'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../../harness/fixture.js'
import { waitFor } from '../../harness/wait-for.js'
import {
  type CoordinatorOptions,
  type Database,
  isConfigurationError,
  type ProtocolStepEvent,
  recover,
} from '../../src/index.js'

const servers = serversForFile()
const { fixture } = servers

/** Two PostgreSQL databases with `marks`; `a` holds the decision log. */
async function twoDatabases(options: Partial<CoordinatorOptions> = {}) {
  const [urlA, urlB] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
  const a = fixture.pg(urlA ?? '', 'a')
  const b = fixture.pg(urlB ?? '', 'b')
  for (const { pool } of [a, b]) await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  await b.pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)')
  await b.pool.query('INSERT INTO accounts VALUES (1, 0)')
  const coordinator = fixture.coordinator({
    decisionLog: a.db,
    acknowledge: 'decision',
    ...options,
  })
  await coordinator.createDecisionLog()
  return { a, b, urlB: urlB ?? '', coordinator }
}

/**
 * A protocol-step observer that holds every branch's commit until `open()` (at the latest when the
 * test ends: a failed test leaves nothing held); `reached` lists the transactions (gtrids) whose
 * commit reached the gate, in order.
 */
function heldCommits(t: TestContext) {
  let open: () => void = () => undefined
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  t.after(() => open())
  const reached: string[] = []
  const onStep = async (event: ProtocolStepEvent) => {
    if (event.step === 'commit' && event.when === 'before') {
      reached.push(event.gtrid)
      await gate
    }
  }
  return { onStep, open: () => open(), reached }
}

/** A session of its own on `pool`, with its backend pid; back to the pool when the test ends. */
async function session(
  t: TestContext,
  pool: pg.Pool,
): Promise<{ client: pg.PoolClient; pid: number }> {
  const client = await pool.connect()
  t.after(() => client.release())
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  return { client, pid: Number(rows[0]?.pid) }
}

/**
 * Waits until session `pid` waits for a lock that only a prepared transaction holds
 * (`pg_blocking_pids` shows a prepared transaction as pid 0): the event that proves it waits.
 */
async function blockedByPrepared(pool: pg.Pool, pid: number): Promise<void> {
  await waitFor(`session ${pid} to wait for the prepared branch`, 60_000, async () => {
    const { rows } = await pool.query<{ blockers: number[] }>(
      'SELECT pg_blocking_pids($1) AS blockers',
      [pid],
    )
    return JSON.stringify(rows[0]?.blockers) === '[0]'
  })
}

async function marks(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => row.tx)
}

const mark = (tx: string) => ({
  run: (branch: { query(sql: string, params: unknown[]): Promise<unknown> }) =>
    branch.query('INSERT INTO marks (tx) VALUES ($1)', [tx]),
})

describe("acknowledge: 'decision'", () => {
  test('the commit returns at the decision; its prepared branch is committed in the background', async (t) => {
    const held = heldCommits(t)
    const { a, b, coordinator } = await twoDatabases({ onStep: held.onStep })
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await mark('t1').run(tx.branches.a)
    await mark('t1').run(tx.branches.b)
    await tx.branches.b.query('UPDATE accounts SET balance = 10 WHERE id = 1')
    const result = await tx.commit()
    assert.ok(result.completion !== undefined, 'acknowledged at the decision')
    assert.deepEqual(
      result.pending.map((branch) => [branch.names[0], branch.state]),
      [['b', 'prepared']],
    )
    // Committed in a (the decision database, in one phase); still prepared in b.
    assert.deepEqual(await marks(a.pool), ['t1'])
    assert.deepEqual(await pgPrepared(b.pool), [result.branches[1]?.xid])
    // Until the background commit lands, plain reads elsewhere see the old rows.
    assert.deepEqual(await marks(b.pool), [])
    const balance = 'SELECT balance FROM accounts WHERE id = 1'
    assert.deepEqual((await b.pool.query(balance)).rows, [{ balance: 0 }])
    assert.deepEqual(coordinator.backgroundCommits, { inFlight: 1, finished: 0, leftToRecovery: 0 })
    // A locking read of a changed row waits for the background commit and sees the new row.
    const reader = await session(t, b.pool)
    let locked = false
    const locking = reader.client.query(`${balance} FOR SHARE`).then((answer) => {
      locked = true
      return answer.rows
    })
    await blockedByPrepared(b.pool, reader.pid)
    assert.equal(locked, false, 'the locking read waits')
    held.open()
    assert.deepEqual(await locking, [{ balance: 10 }])
    const final = await result.completion
    assert.deepEqual(final.pending, [])
    assert.ok(final.branches.every((branch) => branch.state === 'committed'))
    assert.deepEqual(await marks(b.pool), ['t1'])
    assert.deepEqual(await pgPrepared(b.pool), [])
    assert.deepEqual(coordinator.backgroundCommits, { inFlight: 0, finished: 1, leftToRecovery: 0 })
  })

  test("transactionResult(): the callback form gives its value and the background commit's pending branches and completion", async (t) => {
    const held = heldCommits(t)
    const { a, b, coordinator } = await twoDatabases({ acknowledge: 'commit', onStep: held.onStep })
    const { value, result } = await coordinator.transactionResult(
      { a: a.db, b: b.db },
      async (branches) => {
        await mark('r1').run(branches.a)
        await mark('r1').run(branches.b)
        return 'order-r1'
      },
      { acknowledge: 'decision' },
    )
    assert.equal(value, 'order-r1')
    assert.ok(result?.completion !== undefined, 'acknowledged at the decision')
    assert.deepEqual(
      result.pending.map((branch) => [branch.names[0], branch.state]),
      [['b', 'prepared']],
    )
    await waitFor('the background commit to reach the gate', 60_000, () =>
      Promise.resolve(held.reached.length === 1),
    )
    assert.deepEqual(held.reached, [result.gtrid])
    assert.deepEqual(await pgPrepared(b.pool), [result.branches[1]?.xid])
    assert.deepEqual(await marks(b.pool), [])
    held.open()
    const final = await result.completion
    assert.deepEqual(final.pending, [])
    assert.ok(final.branches.every((branch) => branch.state === 'committed'))
    assert.deepEqual(await marks(b.pool), ['r1'])
    assert.deepEqual(await pgPrepared(b.pool), [])
    // Work that ends the transaction itself: its own commit() had the report.
    const own = await coordinator.transactionResult({ a: a.db }, async (_branches, tx) => {
      await tx.rollback()
      return 'rolled back by the work'
    })
    assert.deepEqual(own, { value: 'rolled back by the work', result: undefined })
    await assert.rejects(
      coordinator.transactionResult({ a: a.db }, async () => 1, {
        acknowledge: 'at-once' as 'decision',
      }),
      (error: unknown) => isConfigurationError(error) && /acknowledge must be/.test(String(error)),
    )
  })

  test('a write of a row the background commit still holds waits for it, then sees the committed row', async (t) => {
    const held = heldCommits(t)
    const { a, b, coordinator } = await twoDatabases({ onStep: held.onStep })
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await mark('w1').run(tx.branches.a)
    await tx.branches.b.query('UPDATE accounts SET balance = 10 WHERE id = 1')
    const result = await tx.commit()
    assert.deepEqual(
      result.pending.map((branch) => [branch.names[0], branch.state]),
      [['b', 'prepared']],
    )
    // Another session's UPDATE of that row waits for the prepared branch, while a plain read
    // still sees the old balance.
    const writer = await session(t, b.pool)
    let written = false
    const writing = writer.client
      .query<{ balance: number }>(
        'UPDATE accounts SET balance = balance + 1 WHERE id = 1 RETURNING balance',
      )
      .then((answer) => {
        written = true
        return answer.rows
      })
    await blockedByPrepared(b.pool, writer.pid)
    assert.equal(written, false, 'the write waits')
    const balance = 'SELECT balance FROM accounts WHERE id = 1'
    assert.deepEqual((await b.pool.query(balance)).rows, [{ balance: 0 }])
    held.open()
    // It applies to the committed row (10), not to the row it first found (0).
    assert.deepEqual(await writing, [{ balance: 11 }])
    const final = await result.completion
    assert.deepEqual(final?.pending, [])
    assert.deepEqual((await b.pool.query(balance)).rows, [{ balance: 11 }])
    assert.deepEqual(await pgPrepared(b.pool), [])
  })

  test('coordinator.close() waits for the background commits; their sessions go back to the pool after', async (t) => {
    const held = heldCommits(t)
    // What happened, in order: close() must return after the background commit, never before.
    const events: string[] = []
    const { a, b, coordinator } = await twoDatabases({
      onStep: async (event) => {
        await held.onStep(event)
        if (event.step === 'commit' && event.when === 'after') events.push('committed')
      },
    })
    await coordinator.transaction({ a: a.db, b: b.db }, async ({ a, b }) => {
      await mark('t1').run(a)
      await mark('t1').run(b)
    })
    await waitFor(
      'the background commit to reach its gate',
      60_000,
      async () => held.reached.length === 1,
    )
    const closing = coordinator.close().then(() => {
      events.push('closed')
    })
    // The commit is held at its gate (no end of the wait can come from it); close() is given
    // ample time, a second, to return early.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    assert.deepEqual(events, [], 'close() waits for the commit under way')
    assert.deepEqual(coordinator.backgroundCommits, { inFlight: 1, finished: 0, leftToRecovery: 0 })
    held.open()
    await closing
    assert.deepEqual(events, ['committed', 'closed'])
    assert.deepEqual(await marks(b.pool), ['t1'])
    assert.deepEqual(await pgPrepared(b.pool), [])
    assert.equal(b.pool.waitingCount, 0)
  })

  test('a branch the background work cannot commit is counted, left prepared, and committed by recovery', async () => {
    const { a, b, coordinator } = await twoDatabases({
      onStep: (event) => {
        if (event.step === 'commit' && event.when === 'before') throw new Error('stalled')
      },
    })
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await mark('t1').run(tx.branches.a)
    await mark('t1').run(tx.branches.b)
    const result = await tx.commit()
    const final = await result.completion
    assert.deepEqual(
      final?.pending.map((branch) => [branch.names[0], branch.state]),
      [['b', 'prepared']],
    )
    assert.deepEqual(coordinator.backgroundCommits, { inFlight: 0, finished: 0, leftToRecovery: 1 })
    assert.equal((await pgPrepared(b.pool)).length, 1)
    const report = await recover({ databases: [a.db, b.db], decisionLog: a.db, minAge: 0 })
    assert.equal(report.counts.committed, 1)
    assert.deepEqual(await marks(b.pool), ['t1'])
    assert.deepEqual(await pgPrepared(b.pool), [])
  })

  test('bounded: beyond maxBackgroundCommits a commit is finished before it returns', async (t) => {
    const held = heldCommits(t)
    const { a, b, coordinator } = await twoDatabases({
      onStep: held.onStep,
      maxBackgroundCommits: 1,
    })
    const run = (id: string) =>
      coordinator.begin({ a: a.db, b: b.db }).then(async (tx) => {
        await mark(id).run(tx.branches.a)
        await mark(id).run(tx.branches.b)
        return tx.commit()
      })
    const first = await run('t1')
    assert.ok(first.completion !== undefined)
    let secondReturned = false
    const second = run('t2').then((result) => {
      secondReturned = true
      return result
    })
    // The second's commit reaches the gate too: held there, it has not returned, and it is not
    // one of the background's (a commit acknowledged at its decision would have returned by now,
    // and be counted in flight).
    await waitFor("the second transaction's commit to reach the gate", 60_000, async () =>
      held.reached.some((gtrid) => gtrid !== first.gtrid),
    )
    assert.equal(secondReturned, false, 'no room in the background: committed in the foreground')
    assert.equal(coordinator.backgroundCommits.inFlight, 1)
    held.open()
    const secondResult = await second
    assert.equal(secondResult.completion, undefined)
    assert.deepEqual(secondResult.pending, [])
    await first.completion
    assert.deepEqual(await marks(b.pool), ['t1', 't2'])
  })

  test('per commit: the option overrides the coordinator, both ways', async () => {
    const { a, b, coordinator } = await twoDatabases({ acknowledge: 'commit' })
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await mark('t1').run(tx.branches.a)
    await mark('t1').run(tx.branches.b)
    const early = await tx.commit({ acknowledge: 'decision' })
    assert.ok(early.completion !== undefined)
    await early.completion
    const { coordinator: acknowledging } = await twoDatabases()
    const late = await acknowledging.begin({ a: a.db, b: b.db })
    await mark('t2').run(late.branches.a)
    await mark('t2').run(late.branches.b)
    const result = await late.commit({ acknowledge: 'commit' })
    assert.equal(result.completion, undefined)
    assert.deepEqual(result.pending, [])
    assert.deepEqual(await marks(b.pool), ['t1', 't2'])
  })

  test('a misspelt value or option, the sequential protocol, a bad bound: ConfigurationError', async () => {
    const { a, b, coordinator } = await twoDatabases({ acknowledge: 'commit' })
    const refused = (call: () => unknown, pattern: RegExp) =>
      assert.throws(
        call,
        (error: unknown) => isConfigurationError(error) && pattern.test(error.message),
      )
    refused(
      () => fixture.coordinator({ decisionLog: a.db, acknowledge: 'decison' as never }),
      /acknowledge must be "commit".*not "decison"/,
    )
    refused(
      () => fixture.coordinator({ protocol: 'sequential', acknowledge: 'decision' }),
      /needs the decision or parallel protocol/,
    )
    refused(
      () => fixture.coordinator({ decisionLog: a.db, maxBackgroundCommits: -1 }),
      /maxBackgroundCommits/,
    )
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await mark('t1').run(tx.branches.b)
    await assert.rejects(
      tx.commit({ acknowlege: 'decision' } as never),
      (error: unknown) =>
        isConfigurationError(error) && /did you mean "acknowledge"/.test(error.message),
    )
    assert.equal(tx.status, 'active', 'refused before the commit began')
    await tx.rollback()
    await assert.rejects(
      coordinator.transaction({ a: a.db }, async () => undefined, { acknowledge: 'soon' as never }),
      (error: unknown) => isConfigurationError(error),
    )
    assert.deepEqual(await marks(b.pool), [])
  })

  test('PostgreSQL + MariaDB: the XA branch is committed in the background on its own session; a write of its row waits for it', async (t) => {
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB')
    const held = heldCommits(t)
    const { a, coordinator } = await twoDatabases({ onStep: held.onStep })
    const url = await mariadb.createDatabase()
    const m = await fixture.mysql(url, 'm')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const result = await (async () => {
      const tx = await coordinator.begin({ a: a.db, m: m.db as Database })
      await mark('t1').run(tx.branches.a)
      await tx.branches.m.query('INSERT INTO marks (tx) VALUES (?)', ['t1'])
      return tx.commit()
    })()
    assert.equal((await xaRecover(m.pool)).length, 1, 'still prepared until the background commit')
    // A write of the row the prepared XA branch inserted waits for it (InnoDB's lock wait), then
    // finds the committed row.
    const writer = await m.pool.getConnection()
    t.after(() => writer.release())
    const [ids] = await writer.query<mysql.RowDataPacket[]>('SELECT CONNECTION_ID() AS id')
    const id = Number(ids[0]?.id)
    let written = false
    const writing = writer
      .query<mysql.ResultSetHeader>("UPDATE marks SET tx = 't1-written' WHERE tx = 't1'")
      .then(([answer]) => {
        written = true
        return answer.affectedRows
      })
    await waitFor('the write to wait for the prepared XA branch', 60_000, async () => {
      const [waiting] = await m.pool.query<mysql.RowDataPacket[]>(
        "SELECT 1 FROM information_schema.innodb_trx WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
        [id],
      )
      return waiting.length === 1
    })
    assert.equal(written, false, 'the write waits')
    held.open()
    assert.equal(await writing, 1, 'the write found the committed row')
    const final = await result.completion
    assert.deepEqual(final?.pending, [])
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks')
    assert.deepEqual(
      rows.map((row) => row.tx),
      ['t1-written'],
    )
    assert.deepEqual(await xaRecover(m.pool), [])
  })

  test('the transaction manager: after-commit hooks run at the decision; close() drains', async (t) => {
    const held = heldCommits(t)
    const [urlA, urlB] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
    const a = fixture.pg(urlA ?? '', 'a')
    const b = fixture.pg(urlB ?? '', 'b')
    for (const { pool } of [a, b]) await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
    const manager = await fixture.manager({
      decisionLog: a.db,
      acknowledge: 'decision',
      onStep: held.onStep,
    })
    const outcomes: string[] = []
    await manager.run(async (tx) => {
      await (await tx.join('a', a.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['t1'])
      await (await tx.join('b', b.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['t1'])
      tx.afterCommit((outcome) => void outcomes.push(outcome))
    })
    assert.deepEqual(outcomes, ['committed'])
    assert.equal((await pgPrepared(b.pool)).length, 1)
    const closing = manager.close()
    held.open()
    await closing
    assert.deepEqual(await marks(b.pool), ['t1'])
    assert.deepEqual(await pgPrepared(b.pool), [])
  })
})
