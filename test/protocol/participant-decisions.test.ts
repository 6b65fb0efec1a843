/**
 * Decisions kept by the participants (`decisionDatabases`): each transaction records its decision
 * in one of its own databases, named by its id; recovery reads it there, leaves the transactions of
 * a decision database it cannot reach for a later round, and still reads the central decision log.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import type { CrashSettings } from '../../harness/crash-coordinator.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import { runCli } from '../../harness/run-cli.js'
import { runCrashCoordinator } from '../../harness/run-crash-coordinator.js'
import type { TestServer } from '../../harness/test-databases.js'
import {
  checkDeployment,
  createCoordinator,
  createTransactionManager,
  type Database,
  isConfigurationError,
  parseXid,
  recover,
} from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'
import { branchXid } from '../../src/xid/xid.js'

const servers = serversForFile()
const { fixture } = servers

/** The database a transaction id names as holding its decision. */
function holderOf(gtrid: string, prefix = 'txkit'): string | undefined {
  const parsed = parseXid(branchXid(gtrid, 2, 0), prefix)
  return parsed.kind === 'decision' ? parsed.decisionLog : undefined
}

async function decisionRows(pool: pg.Pool): Promise<Array<{ gtrid: string; outcome: string }>> {
  const { rows } = await pool.query<{ gtrid: string; outcome: string }>(
    'SELECT gtrid, outcome FROM txkit_decision ORDER BY gtrid',
  )
  return rows
}

describe('decisions kept by the participants', () => {
  test('each transaction records its decision in one of its own databases, chosen per transaction: the load spreads and everything commits', async () => {
    const names = ['a', 'b', 'c']
    const pgs = await Promise.all(names.map((name) => fixture.markedPg(servers.postgres, name)))
    const databases: Record<string, Database> = Object.fromEntries(
      pgs.map((each) => [each.name, each.db]),
    )
    const mariadb = servers.mariadb as TestServer | undefined
    let mariaMarks: (() => Promise<string[]>) | undefined
    if (mariadb !== undefined) {
      // A MariaDB participant keeps decisions too: its row goes in before its one-phase commit.
      const maria = await fixture.mysql(await mariadb.createDatabase(), 'm')
      await maria.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
      databases.m = maria.db
      mariaMarks = async () => {
        const [rows] = await maria.pool.query('SELECT tx FROM marks ORDER BY tx')
        return (rows as Array<{ tx: string }>).map((row) => row.tx)
      }
    }
    const all = Object.keys(databases)
    const coordinator = fixture.coordinator({ decisionDatabases: Object.values(databases) })
    await coordinator.createDecisionLog()

    const held = new Map<string, number>()
    const written = new Map<string, string[]>(all.map((name) => [name, []]))
    const pairs = all.flatMap((first, index) =>
      all.slice(index + 1).map((second) => [first, second]),
    )
    for (let i = 0; i < 48; i++) {
      const pair = pairs[i % pairs.length] as string[]
      const marker = `t${i}`
      const gtrid = await coordinator.transaction(
        Object.fromEntries(pair.map((name) => [name, databases[name] as Database])),
        async (branches, tx) => {
          for (const [name, branch] of Object.entries(branches)) {
            await branch.query(`INSERT INTO marks (tx) VALUES (${name === 'm' ? '?' : '$1'})`, [
              marker,
            ])
          }
          return tx.gtrid
        },
      )
      const holder = holderOf(gtrid)
      assert.ok(holder !== undefined && pair.includes(holder), `${gtrid} names ${holder}`)
      held.set(holder, (held.get(holder) ?? 0) + 1)
      for (const name of pair) written.get(name)?.push(marker)
    }
    // No database kept every decision.
    assert.ok(held.size >= 3, `decisions kept by ${JSON.stringify([...held])}`)
    assert.ok(Math.max(...held.values()) < 48 * 0.6, JSON.stringify([...held]))

    await coordinator.close()
    for (const each of pgs) {
      assert.deepEqual(await pgMarks(each.pool), (written.get(each.name) ?? []).sort())
      assert.deepEqual(await pgPrepared(each.pool), [])
      // Finished rows are deleted from the table that holds them.
      assert.deepEqual(await decisionRows(each.pool), [])
    }
    if (mariaMarks !== undefined) {
      assert.deepEqual(await mariaMarks(), (written.get('m') ?? []).sort())
    }
  })

  test('recovery reads each decision where its id names it, never decides one whose database is unreachable, and still reads the central log', async () => {
    const [a, b, c] = await Promise.all(
      ['a', 'b', 'c'].map((name) => fixture.markedPg(servers.postgres, name)),
    )
    if (a === undefined || b === undefined || c === undefined) throw new Error('no databases')
    await fixture.coordinator({ decisionDatabases: [a.db, b.db, c.db] }).createDecisionLog()
    const spec = (each: { name: string; url: string }) => ({
      name: each.name,
      kind: 'postgres' as const,
      url: each.url,
    })
    const crash = async (
      marker: string,
      members: ReadonlyArray<{ name: string; url: string }>,
      keeper: Pick<CrashSettings, 'decisionDatabases' | 'decisionLog' | 'decisionLogElsewhere'>,
      when: 'before' | 'after',
    ) => {
      const run = await runCrashCoordinator({
        databases: members.map(spec),
        ...keeper,
        protocol: 'decision',
        prefix: 'txkit',
        marker,
        killAt: { step: 'decision', when },
      })
      assert.equal(run.signal, 'SIGKILL', run.output)
    }
    // t1: a and b, decision kept by a, killed after it. t2: b and c, kept by c, after.
    // t3: a and b, kept by b, killed before the decision. t4: b and c, decided in the central log
    // on a (not a participant), after: how transactions of a coordinator without
    // decisionDatabases look.
    await crash('t1', [a, b], { decisionDatabases: ['a'] }, 'after')
    await crash('t2', [b, c], { decisionDatabases: ['c'] }, 'after')
    await crash('t3', [a, b], { decisionDatabases: ['b'] }, 'before')
    await crash('t4', [b, c], { decisionLogElsewhere: spec(a) }, 'after')
    // t3's branch on b (its keeper) died unprepared with the coordinator.
    assert.equal((await pgPrepared(b.pool)).length, 3)
    assert.equal((await pgPrepared(a.pool)).length, 1)

    // Given the central log only: what it holds is finished, the rest left with where to look.
    const central = await recover({ databases: [a.db, b.db, c.db], decisionLog: a.db, minAge: 0 })
    const byMarker = async () => ({
      a: await pgMarks(a.pool),
      b: await pgMarks(b.pool),
      c: await pgMarks(c.pool),
    })
    assert.equal(central.counts.committed, 2, JSON.stringify(central.transactions))
    const left = central.transactions.filter((tx) => tx.action === 'left')
    assert.deepEqual(left.map((tx) => tx.left).sort(), ['other-decision-log', 'other-decision-log'])
    assert.deepEqual(left.map((tx) => holderOf(tx.gtrid)).sort(), ['b', 'c'])
    assert.match(left[0]?.reason ?? '', /recorded in decision log "[bc]" \(database "[bc]"/)
    // t1 and t2 committed at their decision where it was kept (a, c); the others followed.
    assert.deepEqual(await byMarker(), { a: ['t1'], b: ['t1', 't4'], c: ['t2', 't4'] })

    // c cannot be reached: t2 (kept by c) is not decided anywhere, t3 (kept by b) is rolled back.
    const cDown = fixture.pg('postgres://postgres@127.0.0.1:9/nowhere', 'c')
    const partial = await recover({
      databases: [a.db, b.db, cDown.db],
      decisionLog: a.db,
      decisionDatabases: [b.db, cDown.db],
      minAge: 0,
    })
    const t2 = partial.transactions.find((tx) => holderOf(tx.gtrid) === 'c')
    assert.equal(t2?.action, 'failed', JSON.stringify(partial.transactions))
    const t3 = partial.transactions.find((tx) => holderOf(tx.gtrid) === 'b')
    assert.equal(t3?.action, 'rolled-back', JSON.stringify(partial.transactions))
    assert.equal(t3?.reason, "no decision row: recorded 'A', roll back")
    assert.deepEqual(
      (await decisionRows(b.pool)).map((row) => row.outcome),
      ['A'],
      "t3's abort is recorded where its id says",
    )
    assert.deepEqual(
      (await decisionRows(a.pool)).map((row) => row.outcome),
      ['C', 'C'],
      "t1's and t4's rows only: nothing recorded for t2 in another log",
    )
    assert.equal((await pgPrepared(b.pool)).length, 1, "t2's branch on b still waits")
    assert.deepEqual(await byMarker(), { a: ['t1'], b: ['t1', 't4'], c: ['t2', 't4'] })

    // Once c is back, the command line finishes t2 from c's decision.
    const db = ['a', 'b', 'c'].flatMap((name, index) => [
      '--db',
      `${name}=${[a, b, c][index]?.url}`,
    ])
    const cli = await runCli([
      'recover',
      ...db,
      '--decision-log',
      'a',
      '--decision-databases',
      'b,c',
      '--min-age',
      '0s',
    ])
    assert.equal(cli.code, 0, cli.stdout + cli.stderr)
    assert.match(cli.stdout, /1 committed, 0 rolled back, 0 left, 0 failed/)
    assert.deepEqual(await byMarker(), { a: ['t1'], b: ['t1', 't2', 't4'], c: ['t2', 't4'] })
    for (const each of [a, b, c]) assert.deepEqual(await pgPrepared(each.pool), [])
  })

  test('init and check cover every decision database; a missing table is found', async () => {
    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) => fixture.markedPg(servers.postgres, name)),
    )
    if (a === undefined || b === undefined) throw new Error('no databases')
    const missing = await checkDeployment({
      databases: [a.db, b.db],
      decisionDatabases: [a.db, b.db],
    })
    assert.deepEqual(
      missing.findings
        .filter((finding) => finding.code === 'decision-table-missing')
        .map((finding) => finding.database)
        .sort(),
      ['a', 'b'],
    )
    const db = ['--db', `a=${a.url}`, '--db', `b=${b.url}`]
    const init = await runCli(['init', ...db, '--decision-databases', 'a,b'])
    assert.equal(init.code, 0, init.stderr)
    assert.match(init.stdout, /Decision table txkit_decision is ready in "a", "b"/)
    for (const each of [a, b]) assert.deepEqual(await decisionRows(each.pool), [])
    const check = await runCli(['check', ...db, '--decision-databases', 'a,b'])
    assert.equal(check.code, 0, check.stdout + check.stderr)
    const unknown = await runCli(['recover', ...db, '--decision-databases', 'a,z'])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /--decision-databases: z names no --db/)
  })

  test('misuse is refused with the fix: other protocols, empty or doubled lists, open transactions and transactions with no keeper but no decision log', async () => {
    // No server is contacted by these checks.
    const pool = new pg.Pool({ connectionString: 'postgres://app@db1:5432/orders' })
    const other = new pg.Pool({ connectionString: 'postgres://app@db2:5432/orders' })
    const orders = pgDatabase(pool, { name: 'orders' })
    const ledger = pgDatabase(other, { name: 'ledger' })
    const refused = (options: object, pattern: RegExp) =>
      assert.throws(
        () => createCoordinator(options as Parameters<typeof createCoordinator>[0]),
        (e: unknown) => isConfigurationError(e) && pattern.test(e.message),
      )
    refused(
      { decisionDatabases: [orders], protocol: 'parallel' },
      /decisionDatabases serve the decision protocol/,
    )
    refused({ decisionDatabases: [] }, /must list the databases that keep decisions/)
    refused({ decisionDatabases: orders }, /must list the databases that keep decisions/)
    refused({ decisionDatabases: [orders, orders] }, /lists database "orders" twice/)
    refused({ decisionDatabase: [orders] }, /Unknown option "decisionDatabase"/)
    refused(
      { decisionDatabases: [orders, pgDatabase(other, { name: 'orders' })] },
      /Two decision logs are named "orders"/,
    )
    await assert.rejects(
      recover({ databases: [orders], decisionDatabases: 'orders' } as never),
      (e: unknown) => isConfigurationError(e) && /must list the databases/.test(e.message),
    )

    assert.throws(
      () => createTransactionManager({ decisionDatabases: [orders] } as never),
      (e: unknown) =>
        isConfigurationError(e) && /takes no decisionDatabases.*Pass decisionLog/.test(e.message),
    )

    const coordinator = createCoordinator({ decisionDatabases: [orders] })
    await assert.rejects(
      coordinator.begin(),
      (e: unknown) =>
        isConfigurationError(e) && /give the coordinator a decisionLog/.test(e.message),
    )
    const third = pgDatabase(new pg.Pool({ connectionString: 'postgres://app@db3:5432/x' }), {
      name: 'third',
    })
    await assert.rejects(
      coordinator.transaction({ ledger, third }, async () => undefined),
      (e: unknown) =>
        isConfigurationError(e) && /None of this transaction's databases/.test(e.message),
    )
    await Promise.all([pool.end(), other.end()])
  })
})
