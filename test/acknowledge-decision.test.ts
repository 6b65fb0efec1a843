/**
 * `acknowledge: 'decision'`: a commit returns once its decision is durable and its prepared
 * branches are committed in the background. Asserts on rows, prepared transactions and the
 * coordinator's counts, on PostgreSQL and MariaDB.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import { serversForFile } from '../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../harness/fixture.js'
import {
  type CoordinatorOptions,
  type Database,
  isConfigurationError,
  type ProtocolStepEvent,
  recover,
} from '../src/index.js'

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

/** A protocol-step observer that holds every branch's background commit until `open()`. */
function heldCommits() {
  let open: () => void = () => undefined
  const gate = new Promise<void>((resolve) => {
    open = resolve
  })
  const onStep = async (event: ProtocolStepEvent) => {
    if (event.step === 'commit' && event.when === 'before') await gate
  }
  return { onStep, open: () => open() }
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
  test('the commit returns at the decision; its prepared branch is committed in the background', async () => {
    const held = heldCommits()
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
    let locked = false
    const locking = b.pool.query(`${balance} FOR SHARE`).then((answer) => {
      locked = true
      return answer.rows
    })
    await new Promise((resolve) => setTimeout(resolve, 300))
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

  test('coordinator.close() waits for the background commits; their sessions go back to the pool after', async () => {
    const held = heldCommits()
    const { a, b, coordinator } = await twoDatabases({ onStep: held.onStep })
    await coordinator.transaction({ a: a.db, b: b.db }, async ({ a, b }) => {
      await mark('t1').run(a)
      await mark('t1').run(b)
    })
    let closed = false
    const closing = coordinator.close().then(() => {
      closed = true
    })
    await new Promise((resolve) => setTimeout(resolve, 200))
    assert.equal(closed, false, 'close() waits for the commit under way')
    held.open()
    await closing
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

  test('bounded: beyond maxBackgroundCommits a commit is finished before it returns', async () => {
    const held = heldCommits()
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
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(secondReturned, false, 'no room in the background: committed in the foreground')
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

  test('PostgreSQL + MariaDB: the XA branch is committed in the background on its own session', async (t) => {
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB')
    const held = heldCommits()
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
    held.open()
    const final = await result.completion
    assert.deepEqual(final?.pending, [])
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks')
    assert.deepEqual(
      rows.map((row) => row.tx),
      ['t1'],
    )
    assert.deepEqual(await xaRecover(m.pool), [])
  })

  test('the transaction manager: after-commit hooks run at the decision; close() drains', async () => {
    const held = heldCommits()
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
