import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import {
  type CommitProtocolName,
  createOutboxTables,
  type Database,
  parseXid,
  recover,
} from '../src/index.js'
import type { CrashPoint, CrashSettings } from './crash-coordinator.js'
import {
  CRASH_HOOK_TIMEOUT_MS,
  CRASH_TEST_TIMEOUT_MS,
  casesOf,
  TOPOLOGIES,
  VARIANTS,
} from './crash-points.js'
import { serversForFile } from './file-servers.js'
import { type Fixture, pgPrepared, xaRecover } from './fixture.js'
import { runCrashCoordinator } from './run-crash-coordinator.js'
import type { TestServer } from './test-databases.js'

const PREFIX = 'crash'

interface Member {
  readonly name: string
  readonly kind: 'postgres' | 'mariadb'
  readonly url: string
  readonly db: Database
  readonly marks: (marker: string) => Promise<boolean>
  /** How many outbox messages of this id the database holds (committed). */
  readonly messages: (id: string) => Promise<number>
  readonly ourPrepared: () => Promise<string[]>
  readonly allPrepared: () => Promise<string[]>
}

async function member(fixture: Fixture, name: string, server: TestServer): Promise<Member> {
  const url = await server.createDatabase()
  if (server.kind === 'postgres') {
    const { pool, db } = fixture.pg(url, name)
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
    await pool.query('CREATE TABLE foreign_work (x int)')
    const allPrepared = () => pgPrepared(pool)
    return {
      name,
      kind: 'postgres',
      url,
      db,
      allPrepared,
      ourPrepared: async () =>
        (await allPrepared()).filter((xid) => parseXid(xid, PREFIX).kind !== 'foreign'),
      marks: async (marker) =>
        (await pool.query('SELECT 1 FROM marks WHERE tx = $1', [marker])).rowCount === 1,
      messages: async (id) =>
        (await pool.query('SELECT 1 FROM txkit_outbox WHERE id = $1', [id])).rowCount ?? 0,
    }
  }
  const { pool, db } = await fixture.mysql(url, name)
  await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
  await pool.query('CREATE TABLE foreign_work (x int) ENGINE=InnoDB')
  const allPrepared = () => xaRecover(pool)
  return {
    name,
    kind: 'mariadb',
    url,
    db,
    allPrepared,
    ourPrepared: async () =>
      (await allPrepared()).filter((xid) => parseXid(xid, PREFIX).kind !== 'foreign'),
    marks: async (marker) => {
      const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT 1 FROM marks WHERE tx = ?', [
        marker,
      ])
      return rows.length === 1
    },
    messages: async (id) => {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT 1 FROM txkit_outbox WHERE id = ?',
        [id],
      )
      return rows.length
    },
  }
}

/** Leaves prepared transactions that are not ours: another prefix, and no prefix at all. */
async function prepareForeign(members: readonly Member[]): Promise<void> {
  for (const m of members) {
    if (m.kind === 'postgres') {
      const client = new pg.Client({ connectionString: m.url })
      await client.connect()
      for (const gid of [
        `other:${randomBytes(8).toString('hex')}:2:0`,
        `no_prefix_${randomBytes(4).toString('hex')}`,
      ]) {
        await client.query('BEGIN')
        await client.query('INSERT INTO foreign_work VALUES (1)')
        await client.query(`PREPARE TRANSACTION '${gid}'`)
      }
      await client.end()
    } else {
      // A MariaDB session holding a prepared XA can run nothing else: one session each.
      for (const gtrid of [
        `other:${randomBytes(8).toString('hex')}:2:1`,
        `plainxa_${randomBytes(4).toString('hex')}`,
      ]) {
        const connection = await mysql.createConnection(m.url)
        await connection.query(`XA START '${gtrid}'`)
        await connection.query('INSERT INTO foreign_work VALUES (1)')
        await connection.query(`XA END '${gtrid}'`)
        await connection.query(`XA PREPARE '${gtrid}'`)
        await connection.end()
      }
    }
  }
}

async function foreignOf(members: readonly Member[]): Promise<string[]> {
  const all = new Set<string>()
  for (const m of members)
    for (const xid of await m.allPrepared())
      if (parseXid(xid, PREFIX).kind === 'foreign') all.add(xid)
  return [...all].sort()
}

async function rollBackForeign(members: readonly Member[]): Promise<void> {
  for (const m of members) {
    for (const xid of await m.allPrepared()) {
      if (parseXid(xid, PREFIX).kind !== 'foreign') continue
      if (m.kind === 'postgres') {
        const client = new pg.Client({ connectionString: m.url })
        await client.connect()
        await client.query(`ROLLBACK PREPARED '${xid}'`).catch(() => {})
        await client.end()
      } else {
        const connection = await mysql.createConnection(m.url)
        await connection.query(`XA ROLLBACK '${xid}'`).catch(() => {})
        await connection.end()
      }
    }
  }
}

function describePoint(point: CrashPoint | undefined): string {
  if (point === undefined) return 'no crash'
  return `killed ${point.when} ${point.step}${point.index === undefined ? '' : ` of branch ${point.index}`}`
}

/**
 * How long recovery may keep finding our transactions still prepared: MariaDB leaves a branch of a
 * killed coordinator attached to its session until the server has seen that session end, which
 * takes longer on a loaded machine. A bound, not a wait: recovery is repeated until nothing is left.
 */
const RECOVERY_BOUND_MS = 30_000

/** Runs recovery until none of our transactions is left prepared. */
async function recoverAll(
  members: readonly Member[],
  protocol: CommitProtocolName,
  participants: boolean,
): Promise<void> {
  const deadline = performance.now() + RECOVERY_BOUND_MS
  for (let round = 0; round < 6 || performance.now() < deadline; round++) {
    const report = await recover({
      databases: members.map((m) => m.db),
      ...(protocol !== 'sequential' &&
        (participants
          ? { decisionDatabases: [(members.at(-1) as Member).db] }
          : { decisionLog: (members[0] as Member).db })),
      prefix: PREFIX,
      protocol: protocol === 'sequential' ? 'sequential' : 'decision',
      minAge: protocol === 'sequential' ? 100 : 0,
    })
    assert.equal(report.counts.failed, 0, JSON.stringify(report.transactions))
    assert.deepEqual(report.malformed, [])
    const left = (await Promise.all(members.map((m) => m.ourPrepared()))).flat()
    if (left.length === 0) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  assert.fail(`recovery left prepared transactions of ours after ${RECOVERY_BOUND_MS} ms`)
}

/**
 * The crash matrix of one topology (see harness/crash-points.ts), for the test file named `file`:
 * every variant, a coordinator killed at every step of it, then recovery, then the checks that
 * nothing split and that what was acknowledged is everywhere. Each test is bounded on its own.
 */
export function crashMatrix(file: string): void {
  const topology = TOPOLOGIES.find((candidate) => candidate.file === file)
  if (topology === undefined) throw new Error(`no crash matrix topology runs in ${file}`)
  const needsMariadb = topology.kinds.includes('mariadb')
  const servers = serversForFile({ mariadb: needsMariadb })
  const { fixture } = servers
  for (const variant of VARIANTS) {
    const { protocol, acknowledge, label, participants } = variant
    describe(`crash matrix: ${topology.name}, ${label}`, () => {
      let members: Member[] = []
      let foreign: string[] = []

      before(
        async () => {
          if (needsMariadb && servers.mariadb === undefined) return
          members = await Promise.all(
            topology.kinds.map((kind, index) =>
              member(
                fixture,
                `${kind === 'postgres' ? 'pg' : 'maria'}${index}`,
                kind === 'postgres' ? servers.postgres : (servers.mariadb as TestServer),
              ),
            ),
          )
          if (protocol !== 'sequential') {
            const coordinator = fixture.coordinator({
              ...(participants
                ? { decisionDatabases: [members.at(-1)?.db as Database] }
                : { decisionLog: members[0]?.db as Database }),
              prefix: PREFIX,
              protocol,
            })
            await coordinator.createDecisionLog()
            if (protocol === 'parallel') {
              for (const m of members) await coordinator.createFenceTable(m.db)
            }
            for (const m of members) await createOutboxTables(m.db)
          }
          await prepareForeign(members)
          foreign = await foreignOf(members)
          assert.ok(foreign.length >= 2)
        },
        { timeout: CRASH_HOOK_TIMEOUT_MS },
      )

      after(
        async () => {
          if (members.length === 0) return
          // No foreign prepared transaction was touched by any of the recoveries.
          assert.deepEqual(await foreignOf(members), foreign)
          await rollBackForeign(members)
        },
        { timeout: CRASH_HOOK_TIMEOUT_MS },
      )

      for (const point of casesOf(topology, variant)) {
        test(describePoint(point), { timeout: CRASH_TEST_TIMEOUT_MS }, async (t) => {
          if (members.length === 0) {
            t.skip('no MariaDB')
            return
          }
          const marker = `${protocol}-${describePoint(point)}-${Math.random()}`.slice(0, 64)
          const messageId = marker.replace(/[^A-Za-z0-9._~-]/g, '_')
          const settings: CrashSettings = {
            databases: members.map((m) => ({ name: m.name, kind: m.kind, url: m.url })),
            ...(protocol !== 'sequential' &&
              (participants
                ? { decisionDatabases: [(members.at(-1) as Member).name] }
                : { decisionLog: (members[0] as Member).name })),
            protocol,
            prefix: PREFIX,
            marker,
            ...(point && { killAt: point }),
            acknowledge,
            // One outbox message, sent where the protocols can carry one.
            ...(protocol !== 'sequential' && { messageId }),
          }
          const run = await runCrashCoordinator(settings)
          if (point === undefined) assert.ok(run.acknowledged, run.output)
          else assert.equal(run.signal, 'SIGKILL', run.output)
          await recoverAll(members, protocol, participants)
          const present = await Promise.all(members.map((m) => m.marks(marker)))
          assert.ok(
            present.every(Boolean) || present.every((p) => !p),
            `split: marker present in ${present.map((p, i) => `${members[i]?.name}=${p}`).join(', ')}`,
          )
          if (protocol !== 'sequential') {
            // The message commits with the transaction: once if it committed, never if not.
            const counts = await Promise.all(members.map((m) => m.messages(messageId)))
            const total = counts.reduce((sum, count) => sum + count, 0)
            assert.equal(total, present[0] ? 1 : 0, `outbox messages ${counts.join(', ')}`)
          }
          if (acknowledge === 'decision' && point?.step === 'commit') {
            assert.ok(run.acknowledged, `acknowledged before the background commit: ${run.output}`)
          }
          if (run.acknowledged)
            assert.ok(present.every(Boolean), 'an acknowledged commit is visible everywhere')
          if (protocol !== 'sequential' && point?.step === 'decision' && point.when === 'after') {
            assert.ok(present.every(Boolean), 'a crash after the decision commits')
          }
          // parallel: a branch not yet prepared is fenced off by recovery, so the rest rolls back.
          const beforeDecision =
            protocol === 'decision' || (protocol === 'parallel' && point?.when === 'before')
          if (point?.step === 'prepare' && beforeDecision) {
            assert.ok(
              present.every((p) => !p),
              'a crash before the decision rolls back',
            )
          }
        })
      }
    })
  }
}
