import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { CrashPoint } from '../harness/crash-coordinator.js'
import { pgPrepared, xaRecover } from '../harness/fixture.js'
import { runCrashCoordinator } from '../harness/run-crash-coordinator.js'
import type { TestServer } from '../harness/test-databases.js'
import { soakSeconds } from '../harness/test-plan.js'
import {
  type Coordinator,
  type Database,
  isOutcomeUnknownError,
  isTransactionRolledBackError,
  parseXid,
  recover,
} from '../src/index.js'

// TXKIT_SOAK_SECONDS, which the runner also reads to give this file its time (harness/test-plan.ts).
const SECONDS = soakSeconds()
const ACCOUNTS = 5
const OPENING = 1000
const PREFIX = 'soak'

import { serversForFile } from '../harness/file-servers.js'

const servers = serversForFile()
const { fixture } = servers

interface Bank {
  readonly name: string
  readonly kind: 'postgres' | 'mariadb'
  readonly url: string
  readonly db: Database
  readonly p: (n: number) => string
  readonly total: () => Promise<number>
  readonly hasMark: (marker: string) => Promise<boolean>
  readonly ours: () => Promise<string[]>
}

async function bank(name: string, server: TestServer): Promise<Bank> {
  const url = await server.createDatabase()
  if (server.kind === 'postgres') {
    const { pool, db } = fixture.pg(url, name)
    await pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL)')
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
    await pool.query('INSERT INTO accounts SELECT g, $1 FROM generate_series(1, $2) g', [
      OPENING,
      ACCOUNTS,
    ])
    return {
      name,
      kind: 'postgres',
      url,
      db,
      p: (n) => `$${n}`,
      total: async () =>
        Number((await pool.query('SELECT sum(balance) AS s FROM accounts')).rows[0]?.s),
      hasMark: async (m) =>
        (await pool.query('SELECT 1 FROM marks WHERE tx = $1', [m])).rowCount === 1,
      ours: async () =>
        (await pgPrepared(pool)).filter((x) => parseXid(x, PREFIX).kind !== 'foreign'),
    }
  }
  const { pool, db } = await fixture.mysql(url, name)
  await pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB')
  await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
  for (let id = 1; id <= ACCOUNTS; id++)
    await pool.query('INSERT INTO accounts VALUES (?, ?)', [id, OPENING])
  return {
    name,
    kind: 'mariadb',
    url,
    db,
    p: () => '?',
    total: async () =>
      Number(
        ((await pool.query('SELECT sum(balance) AS s FROM accounts'))[0] as Array<{ s: string }>)[0]
          ?.s,
      ),
    hasMark: async (m) =>
      ((await pool.query('SELECT 1 FROM marks WHERE tx = ?', [m]))[0] as unknown[]).length === 1,
    ours: async () => (await xaRecover(pool)).filter((x) => parseXid(x, PREFIX).kind !== 'foreign'),
  }
}

test(`three recovery workers, live writers and crashing coordinators for ${SECONDS}s: nothing split, nothing lost`, async () => {
  const banks = [await bank('a', servers.postgres), await bank('b', servers.postgres)]
  if (servers.mariadb) banks.push(await bank('c', servers.mariadb))
  const [decision] = banks
  if (decision === undefined) throw new Error('no bank')
  const coordinator = fixture.coordinator({ prefix: PREFIX, decisionLog: decision.db })
  await coordinator.createDecisionLog()
  // Half the writers return at the decision and commit their prepared branches in the background,
  // racing the recovery workers for them.
  const acknowledging = fixture.coordinator({
    prefix: PREFIX,
    decisionLog: decision.db,
    acknowledge: 'decision',
  })
  // Writers of the parallel protocol too, on the same decision log: one acknowledging at its
  // commit point, one once every branch is committed.
  const parallel = fixture.coordinator({
    prefix: PREFIX,
    decisionLog: decision.db,
    protocol: 'parallel',
  })
  for (const b of banks) await parallel.createFenceTable(b.db)
  const parallelAcknowledging = fixture.coordinator({
    prefix: PREFIX,
    decisionLog: decision.db,
    protocol: 'parallel',
    acknowledge: 'decision',
  })
  // Writers whose decisions are kept by the participants (decisionDatabases): every bank keeps the
  // decisions of some of its transactions; one of them acknowledges at the decision.
  const keepers = banks.map((b) => b.db)
  const participants = fixture.coordinator({ prefix: PREFIX, decisionDatabases: keepers })
  await participants.createDecisionLog()
  const participantsAcknowledging = fixture.coordinator({
    prefix: PREFIX,
    decisionDatabases: keepers,
    acknowledge: 'decision',
  })
  const before = (await Promise.all(banks.map((b) => b.total()))).reduce((x, y) => x + y, 0)
  const deadline = Date.now() + SECONDS * 1000
  const random = (n: number) => Math.floor(Math.random() * n)
  const stats = { acknowledged: 0, rolledBack: 0, unknown: 0, rounds: 0, crashes: 0 }

  // Every writer transaction marks both databases: a split names the transaction and what its
  // writer was told.
  const told: Array<{ marker: string; writer: string; outcome: string; error?: string }> = []
  const writer = async (coordinator: Coordinator, name: string) => {
    while (Date.now() < deadline) {
      const marker = `${name}-${told.length}`
      const entry: (typeof told)[number] = { marker, writer: name, outcome: 'running' }
      told.push(entry)
      const from = banks[random(banks.length)] as Bank
      let to = banks[random(banks.length)] as Bank
      while (to === from) to = banks[random(banks.length)] as Bank
      const [fromId, toId, amount] = [1 + random(ACCOUNTS), 1 + random(ACCOUNTS), 1 + random(50)]
      try {
        await coordinator.transaction({ from: from.db, to: to.db }, async (branches) => {
          const lock = (b: Bank, branch: typeof branches.from, id: number) =>
            branch.query(`SELECT balance FROM accounts WHERE id = ${b.p(1)} FOR UPDATE`, [id])
          if (to.name < from.name) await lock(to, branches.to, toId)
          await lock(from, branches.from, fromId)
          if (from.name < to.name) await lock(to, branches.to, toId)
          await branches.from.query(
            `UPDATE accounts SET balance = balance - ${from.p(1)} WHERE id = ${from.p(2)}`,
            [amount, fromId],
          )
          await branches.to.query(
            `UPDATE accounts SET balance = balance + ${to.p(1)} WHERE id = ${to.p(2)}`,
            [amount, toId],
          )
          for (const [b, branch] of [
            [from, branches.from],
            [to, branches.to],
          ] as const) {
            await branch.query(`INSERT INTO marks (tx) VALUES (${b.p(1)})`, [marker])
          }
        })
        stats.acknowledged++
        entry.outcome = 'committed'
      } catch (error) {
        // Recovery may decide 'A' for a live transaction past minAge 0: a clean rollback.
        if (isTransactionRolledBackError(error)) stats.rolledBack++
        else if (isOutcomeUnknownError(error)) stats.unknown++
        else throw error
        entry.outcome = isTransactionRolledBackError(error) ? 'rolled back' : 'unknown'
        entry.error = error.message
      }
    }
  }

  const crashes: Array<{ marker: string; acknowledged: boolean }> = []
  const crasher = async () => {
    const points: CrashPoint[] = [
      { step: 'prepare', when: 'after' },
      { step: 'decision', when: 'before' },
      { step: 'decision', when: 'after' },
      { step: 'commit', when: 'before' },
    ]
    while (Date.now() < deadline) {
      const marker = `soak-${crashes.length}`
      // decision, parallel, and decision kept by a participant, by turns.
      const turn = crashes.length % 6
      const run = await runCrashCoordinator({
        databases: banks.map((b) => ({ name: b.name, kind: b.kind, url: b.url })),
        ...(turn < 4
          ? { decisionLog: decision.name }
          : { decisionDatabases: banks.map((b) => b.name) }),
        protocol: turn < 2 || turn >= 4 ? 'decision' : 'parallel',
        prefix: PREFIX,
        marker,
        killAt: points[random(points.length)] as CrashPoint,
        acknowledge: crashes.length % 2 === 0 ? 'decision' : 'commit',
      })
      crashes.push({ marker, acknowledged: run.acknowledged !== undefined })
      stats.crashes++
    }
  }

  const worker = async () => {
    while (Date.now() < deadline) {
      const report = await recover({
        databases: banks.map((b) => b.db),
        decisionLog: decision.db,
        decisionDatabases: keepers,
        prefix: PREFIX,
        minAge: 0,
        lockTimeout: 100,
      })
      assert.equal(
        report.counts.failed,
        0,
        JSON.stringify(report.transactions.filter((t) => t.action === 'failed')),
      )
      stats.rounds++
      await new Promise((resolve) => setTimeout(resolve, random(50)))
    }
  }

  await Promise.all([
    writer(coordinator, 'decision'),
    writer(acknowledging, 'decision-ack'),
    writer(parallel, 'parallel'),
    writer(parallelAcknowledging, 'parallel-ack'),
    writer(participants, 'participants'),
    writer(participantsAcknowledging, 'participants-ack'),
    crasher(),
    worker(),
    worker(),
    worker(),
  ])

  await acknowledging.close()
  await parallelAcknowledging.close()
  await participantsAcknowledging.close()
  assert.equal(participantsAcknowledging.backgroundCommits.inFlight, 0)
  assert.ok(
    told.some((entry) => entry.writer === 'participants' && entry.outcome === 'committed'),
    'transactions with decisions kept by the participants committed',
  )
  const background = acknowledging.backgroundCommits
  assert.equal(background.inFlight, 0)
  assert.ok(background.finished > 10, `background commits: ${JSON.stringify(background)}`)
  const parallelBackground = parallelAcknowledging.backgroundCommits
  assert.ok(
    parallelBackground.finished > 10,
    `parallel background commits: ${JSON.stringify(parallelBackground)}`,
  )
  for (let round = 0; round < 10; round++) {
    await recover({
      databases: banks.map((b) => b.db),
      decisionLog: decision.db,
      decisionDatabases: keepers,
      prefix: PREFIX,
      minAge: 0,
    })
    if ((await Promise.all(banks.map((b) => b.ours()))).flat().length === 0) break
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  assert.deepEqual(
    (await Promise.all(banks.map((b) => b.ours()))).flat(),
    [],
    'nothing of ours left prepared',
  )
  const wrong: string[] = []
  for (const entry of told) {
    const present = (await Promise.all(banks.map((b) => b.hasMark(entry.marker)))).filter(Boolean)
    const split = present.length === 1
    const untrue =
      (entry.outcome === 'committed' && present.length !== 2) ||
      (entry.outcome === 'rolled back' && present.length !== 0)
    if (split || untrue) wrong.push(`${JSON.stringify(entry)} on ${present.length} databases`)
  }
  assert.deepEqual(
    wrong,
    [],
    'every writer transaction all or nothing, and its writer told the truth',
  )
  const afterTotal = (await Promise.all(banks.map((b) => b.total()))).reduce((x, y) => x + y, 0)
  assert.equal(afterTotal, before, 'money conserved')
  for (const crash of crashes) {
    const present = await Promise.all(banks.map((b) => b.hasMark(crash.marker)))
    assert.ok(
      present.every(Boolean) || present.every((p) => !p),
      `${crash.marker} split: ${present}`,
    )
    if (crash.acknowledged) assert.ok(present.every(Boolean))
  }
  assert.ok(stats.acknowledged > 50, `writers made progress: ${JSON.stringify(stats)}`)
  assert.ok(stats.rounds > 30, `workers ran: ${JSON.stringify(stats)}`)
  assert.ok(stats.crashes > 5, `coordinators crashed: ${JSON.stringify(stats)}`)
  // What the writers told "outcome unknown" heard: each must be a case the protocols name.
  const unknown = told.filter((entry) => entry.outcome === 'unknown').map((entry) => entry.error)
  process.stdout.write(
    `# soak: ${JSON.stringify({ ...stats, background, parallelBackground, unknown })}\n`,
  )
})
