import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import type { CrashPoint, CrashSettings } from '../harness/crash-coordinator.js'
import { pgPrepared, xaRecover } from '../harness/fixture.js'
import { runCrashCoordinator } from '../harness/run-crash-coordinator.js'
import type { TestServer } from '../harness/test-databases.js'
import { type CommitProtocolName, type Database, parseXid, recover } from '../src/index.js'

const PREFIX = 'crash'

import { serversForFile } from '../harness/file-servers.js'

const servers = serversForFile()
const { fixture } = servers

interface Member {
  readonly name: string
  readonly kind: 'postgres' | 'mariadb'
  readonly url: string
  readonly db: Database
  readonly marks: (marker: string) => Promise<boolean>
  readonly ourPrepared: () => Promise<string[]>
  readonly allPrepared: () => Promise<string[]>
}

async function member(name: string, server: TestServer): Promise<Member> {
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

/**
 * Every step at which a coordinator can die, for `count` branches of which the decision database's
 * (`decisionIndex`) is not prepared under the decision protocol.
 */
function crashPoints(
  protocol: CommitProtocolName,
  count: number,
  decisionIndex: number,
): Array<CrashPoint | undefined> {
  // The decision protocol commits the decision database's branch in one phase.
  const prepared = Array.from({ length: count }, (_, index) => index).filter(
    (index) => protocol !== 'decision' || index !== decisionIndex,
  )
  const points: Array<CrashPoint | undefined> = [undefined]
  for (const index of prepared) {
    points.push(
      { step: 'prepare', when: 'before', index },
      { step: 'prepare', when: 'after', index },
    )
  }
  if (protocol !== 'sequential') {
    // parallel: 'before' is the staged row's insert (in parallel with the PREPAREs), 'after' the
    // commit point.
    points.push({ step: 'decision', when: 'before' }, { step: 'decision', when: 'after' })
  }
  for (const index of prepared) {
    points.push({ step: 'commit', when: 'before', index }, { step: 'commit', when: 'after', index })
  }
  return points
}

function describePoint(point: CrashPoint | undefined): string {
  if (point === undefined) return 'no crash'
  return `killed ${point.when} ${point.step}${point.index === undefined ? '' : ` of branch ${point.index}`}`
}

/** Runs recovery until none of our transactions is left prepared (MariaDB needs a moment to see a dead session). */
async function recoverAll(
  members: readonly Member[],
  protocol: CommitProtocolName,
  participants: boolean,
): Promise<void> {
  for (let round = 0; round < 6; round++) {
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
  assert.fail('recovery left prepared transactions of ours')
}

const topologies: ReadonlyArray<{ name: string; kinds: ReadonlyArray<'postgres' | 'mariadb'> }> = [
  { name: 'PG+PG', kinds: ['postgres', 'postgres'] },
  { name: 'PG+MariaDB', kinds: ['postgres', 'mariadb'] },
  { name: 'PG+PG+MariaDB', kinds: ['postgres', 'postgres', 'mariadb'] },
]

const variants = [
  { protocol: 'decision', acknowledge: 'commit', label: 'decision', participants: false },
  {
    protocol: 'decision',
    acknowledge: 'decision',
    label: 'decision, acknowledged at the decision',
    participants: false,
  },
  // The decision kept by a participant (decisionDatabases), here the last database: on MariaDB
  // its row is inserted in the branch before its one-phase commit, on PostgreSQL with its BEGIN.
  {
    protocol: 'decision',
    acknowledge: 'commit',
    label: 'decision kept by the last participant',
    participants: true,
  },
  {
    protocol: 'decision',
    acknowledge: 'decision',
    label: 'decision kept by the last participant, acknowledged at the decision',
    participants: true,
  },
  { protocol: 'parallel', acknowledge: 'commit', label: 'parallel', participants: false },
  {
    protocol: 'parallel',
    acknowledge: 'decision',
    label: 'parallel, acknowledged at the commit point',
    participants: false,
  },
  { protocol: 'sequential', acknowledge: 'commit', label: 'sequential', participants: false },
] as const

for (const topology of topologies) {
  for (const { protocol, acknowledge, label, participants } of variants) {
    describe(`crash matrix: ${topology.name}, ${label}`, () => {
      let members: Member[] = []
      let foreign: string[] = []
      const needsMariadb = topology.kinds.includes('mariadb')

      before(async () => {
        if (needsMariadb && servers.mariadb === undefined) return
        members = await Promise.all(
          topology.kinds.map((kind, index) =>
            member(
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
        }
        await prepareForeign(members)
        foreign = await foreignOf(members)
        assert.ok(foreign.length >= 2)
      })

      after(async () => {
        if (members.length === 0) return
        // No foreign prepared transaction was touched by any of the recoveries.
        assert.deepEqual(await foreignOf(members), foreign)
        await rollBackForeign(members)
      })

      const decisionIndex = participants ? topology.kinds.length - 1 : 0
      for (const point of crashPoints(protocol, topology.kinds.length, decisionIndex)) {
        test(describePoint(point), async (t) => {
          if (members.length === 0) {
            t.skip('no MariaDB')
            return
          }
          const marker = `${protocol}-${describePoint(point)}-${Math.random()}`.slice(0, 64)
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
