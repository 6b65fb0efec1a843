import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { Fixture, pgPrepared, xaRecover } from '../../harness/fixture.js'
import { findMariadb, MariadbServer } from '../../harness/mariadb-server.js'
import { PostgresServer } from '../../harness/postgres-server.js'
import { runCrashCoordinator } from '../../harness/run-crash-coordinator.js'
import {
  stopTestServers,
  type TestServer,
  testMariadb,
  testPostgres,
} from '../../harness/test-databases.js'
import { withConnection } from '../../src/database/with-connection.js'
import { type Database, recover } from '../../src/index.js'

const fixture = new Fixture()
let postgres: TestServer
let mariadb: TestServer | undefined
const extraServers: PostgresServer[] = []
const extraMariadb: MariadbServer[] = []

before(async () => {
  postgres = await testPostgres()
  mariadb = await testMariadb()
})
after(async () => {
  await fixture.close()
  for (const server of [...extraServers, ...extraMariadb]) await server.stop()
  await stopTestServers()
})

const hex = (bytes: number) => randomBytes(bytes).toString('hex')
const decisionGtrid = (prefix: string, startedAt = Date.now()) =>
  `${prefix}.${startedAt.toString(36).padStart(9, '0')}${hex(8)}`

async function pgMember(name: string, server: TestServer = postgres) {
  const url = await server.createDatabase()
  const { pool, db } = fixture.pg(url, name)
  await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
  return { name, url, pool, db }
}

async function preparePg(pool: pg.Pool, gid: string, marker: string): Promise<void> {
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query('INSERT INTO marks VALUES ($1)', [marker])
    await client.query(`PREPARE TRANSACTION '${gid}'`)
  } finally {
    client.release()
  }
}

async function hasMark(pool: pg.Pool, marker: string): Promise<boolean> {
  return (await pool.query('SELECT 1 FROM marks WHERE tx = $1', [marker])).rowCount === 1
}

/**
 * Creates the decision table, stamped as made a day ago: these tests backdate their transactions'
 * start times, and recovery never aborts a transaction older than its decision table.
 */
async function decisionTable(db: Database) {
  await fixture.coordinator({ decisionLog: db }).createDecisionLog()
  await withConnection(db, (connection) =>
    connection.query(
      `COMMENT ON TABLE txkit_decision IS 'txkit decision log; created_ms=${Date.now() - 86_400_000}'`,
    ),
  )
}

describe('recovery: isolation and malformed input', () => {
  test('malformed ids and impossible counts are reported and left alone; the others are recovered', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    await decisionTable(a.db)
    const broken = [
      'rec.zzz.2.0',
      `rec:${hex(8)}:2:5`,
      `rec:NOTHEX${hex(5)}:2:0`,
      `rec.${hex(12)}.0.0`,
    ]
    for (const [i, gid] of broken.entries()) await preparePg(a.pool, gid, `broken-${i}`)
    const tooMany = `rec:${hex(8)}:5:4`
    await preparePg(b.pool, tooMany, 'too-many')
    // A sound transaction with a 'C' decision, and an unreachable third database.
    const good = decisionGtrid('rec', Date.now() - 60_000)
    await preparePg(b.pool, `${good}.2.1`, 'good')
    await a.pool.query(
      `INSERT INTO txkit_decision (gtrid, outcome, participants) VALUES ($1, 'C', '["a","b"]')`,
      [good],
    )
    const unreachable = fixture.pg('postgres://app:pw@127.0.0.1:1/none', 'gone')

    const report = await recover({
      databases: [a.db, b.db, unreachable.db],
      decisionLog: a.db,
      prefix: 'rec',
      protocol: 'all',
      minAge: 100,
    })
    assert.deepEqual(report.malformed.map((m) => m.xid).sort(), [...broken].sort())
    assert.ok(
      report.malformed
        .find((m) => m.xid === broken[1])
        ?.reason.includes('index 5 is not below the branch count 2'),
    )
    const invalid = report.transactions.find((t) => t.gtrid === tooMany.slice(0, -4))
    assert.equal(invalid?.action, 'left')
    assert.equal(invalid?.left, 'invalid-state')
    assert.match(invalid?.reason ?? '', /name 5 databases but only 3 are configured/)
    const recovered = report.transactions.find((t) => t.gtrid === good)
    assert.equal(recovered?.action, 'committed')
    assert.equal(await hasMark(b.pool, 'good'), true)
    assert.match(
      report.databases.find((d) => d.name === 'gone')?.error ?? '',
      /could not be scanned/,
    )
    assert.ok(report.counts.failed >= 1, 'the unreachable database counts as a failure')
    // Untouched: still prepared.
    assert.deepEqual((await pgPrepared(a.pool)).sort(), [...broken].sort())
    assert.deepEqual(await pgPrepared(b.pool), [tooMany])
    for (const gid of broken) await a.pool.query(`ROLLBACK PREPARED '${gid}'`)
    await b.pool.query(`ROLLBACK PREPARED '${tooMany}'`)
  })

  test('a transaction that cannot be recovered is reported by its id, and the others still are', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    // The decision table is missing: decision transactions are left, each named, with what to do
    // (never "create it"); sequential ones go on.
    const stuck = decisionGtrid('iso', Date.now() - 60_000)
    await preparePg(b.pool, `${stuck}.2.1`, 'stuck')
    const seed = `iso:${hex(8)}`
    await preparePg(a.pool, `${seed}:2:0`, 'seed-0')
    await preparePg(b.pool, `${seed}:2:1`, 'seed-1')
    const report = await recover({
      databases: [a.db, b.db],
      decisionLog: a.db,
      prefix: 'iso',
      protocol: 'all',
      minAge: 100,
    })
    const failed = report.transactions.find((t) => t.gtrid === stuck)
    assert.equal(failed?.action, 'left')
    assert.equal(failed?.left, 'decision-table-missing')
    assert.match(
      failed?.reason ?? '',
      /decision table txkit_decision does not exist in database "a".*wrong database.*Do not create it/,
    )
    assert.doesNotMatch(failed?.reason ?? '', /createDecisionLog|txkit init/)
    assert.deepEqual(
      failed?.branches.map((branch) => branch.xid),
      [`${stuck}.2.1`],
    )
    assert.equal(report.transactions.find((t) => t.gtrid === seed)?.action, 'committed')
    assert.equal(await hasMark(a.pool, 'seed-0'), true)
    assert.deepEqual(await pgPrepared(b.pool), [`${stuck}.2.1`], 'the failed one is left prepared')
    await b.pool.query(`ROLLBACK PREPARED '${stuck}.2.1'`)
  })

  test("ids written by sqlalchemy-xa-recovery 0.1.0 are recovered by the seed's rule", async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const c = await pgMember('c')
    const suffix = `sxr:${hex(8)}`
    const prefixOnly = `sxr:${hex(8)}`
    const neither = `sxr:${hex(8)}`
    await preparePg(b.pool, `${suffix}:3:1`, 'suffix-1')
    await preparePg(c.pool, `${suffix}:3:2`, 'suffix-2')
    await preparePg(a.pool, `${prefixOnly}:3:0`, 'prefix-0')
    await preparePg(b.pool, `${prefixOnly}:3:1`, 'prefix-1')
    await preparePg(b.pool, `${neither}:3:1`, 'neither-1')
    const report = await recover({
      databases: { a: a.db, b: b.db, c: c.db },
      prefix: 'sxr',
      protocol: 'sequential',
      minAge: 100,
    })
    const byGtrid = new Map(report.transactions.map((t) => [t.gtrid, t]))
    assert.equal(byGtrid.get(suffix)?.action, 'committed')
    assert.match(byGtrid.get(suffix)?.reason ?? '', /suffix: commit in ascending order/)
    assert.deepEqual(
      byGtrid.get(suffix)?.branches.map((branch) => branch.index),
      [1, 2],
    )
    assert.equal(byGtrid.get(prefixOnly)?.action, 'rolled-back')
    assert.deepEqual(
      byGtrid.get(prefixOnly)?.branches.map((branch) => branch.index),
      [1, 0],
      'descending',
    )
    assert.equal(byGtrid.get(neither)?.left, 'invalid-state')
    assert.equal(await hasMark(b.pool, 'suffix-1'), true)
    assert.equal(await hasMark(c.pool, 'suffix-2'), true)
    assert.equal(await hasMark(a.pool, 'prefix-0'), false)
    assert.deepEqual(await pgPrepared(b.pool), [`${neither}:3:1`])
    await b.pool.query(`ROLLBACK PREPARED '${neither}:3:1'`)
  })

  test('dry run changes nothing; an abort decision rolls back; minAge spares the young', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    await decisionTable(a.db)
    const aborted = decisionGtrid('dry', Date.now() - 60_000)
    const orphan = decisionGtrid('dry', Date.now() - 60_000)
    const young = decisionGtrid('dry')
    await preparePg(b.pool, `${aborted}.2.1`, 'aborted')
    await preparePg(b.pool, `${orphan}.2.1`, 'orphan')
    await preparePg(b.pool, `${young}.2.1`, 'young')
    await a.pool.query(
      `INSERT INTO txkit_decision (gtrid, outcome, participants) VALUES ($1, 'A', '["a","b"]')`,
      [aborted],
    )
    const options = { databases: [a.db, b.db], decisionLog: a.db, prefix: 'dry', minAge: 30_000 }
    const dry = await recover({ ...options, dryRun: true })
    assert.deepEqual(
      dry.transactions.map((t) => [t.gtrid, t.action]).sort(),
      [
        [aborted, 'would-roll-back'],
        [orphan, 'would-roll-back'],
        [young, 'left'],
      ].sort(),
    )
    assert.equal((await pgPrepared(b.pool)).length, 3, 'dry run touched nothing')
    assert.equal(
      (await a.pool.query('SELECT 1 FROM txkit_decision')).rowCount,
      1,
      'and wrote no decision',
    )
    const real = await recover(options)
    const byGtrid = new Map(real.transactions.map((t) => [t.gtrid, t]))
    assert.equal(byGtrid.get(aborted)?.action, 'rolled-back')
    assert.match(byGtrid.get(orphan)?.reason ?? '', /no decision row: recorded 'A', roll back/)
    assert.equal(byGtrid.get(young)?.left, 'too-young')
    assert.deepEqual(await pgPrepared(b.pool), [`${young}.2.1`])
    const rows = await a.pool.query(`SELECT gtrid, outcome FROM txkit_decision ORDER BY gtrid`)
    assert.deepEqual(
      rows.rows.map((r) => [r.gtrid, r.outcome]).sort(),
      [
        [aborted, 'A'],
        [orphan, 'A'],
      ].sort(),
    )
    await b.pool.query(`ROLLBACK PREPARED '${young}.2.1'`)
  })

  test('an aborted signal stops recovery between transactions and says so', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    await decisionTable(a.db)
    const gtrid = decisionGtrid('sig', Date.now() - 60_000)
    await preparePg(b.pool, `${gtrid}.2.1`, 'signal')
    const controller = new AbortController()
    controller.abort()
    const report = await recover({
      databases: [a.db, b.db],
      decisionLog: a.db,
      prefix: 'sig',
      minAge: 0,
      signal: controller.signal,
    })
    assert.equal(report.aborted, true)
    assert.deepEqual(report.transactions, [])
    assert.deepEqual(await pgPrepared(b.pool), [`${gtrid}.2.1`], 'nothing was done')
    const resumed = await recover({
      databases: [a.db, b.db],
      decisionLog: a.db,
      prefix: 'sig',
      minAge: 0,
    })
    assert.equal(resumed.transactions[0]?.action, 'rolled-back')
  })

  test('decision rows: finished commits are collected, aborts only past the deadline', async () => {
    const a = await pgMember('a')
    await decisionTable(a.db)
    const oldCommit = decisionGtrid('gc', Date.now() - 10_000)
    const recentAbort = decisionGtrid('gc', Date.now() - 10_000)
    const ancientAbort = decisionGtrid('gc', Date.now() - 3 * 3_600_000)
    const unconfigured = decisionGtrid('gc', Date.now() - 3 * 3_600_000)
    for (const [gtrid, outcome, participants] of [
      [oldCommit, 'C', '["a"]'],
      [recentAbort, 'A', '["a"]'],
      [ancientAbort, 'A', '["a"]'],
      [unconfigured, 'C', '["a","elsewhere"]'],
    ]) {
      await a.pool.query(
        `INSERT INTO txkit_decision (gtrid, outcome, participants, created_at) VALUES ($1, $2, $3, now() - interval '1 hour')`,
        [gtrid, outcome, participants],
      )
    }
    const report = await recover({ databases: [a.db], decisionLog: a.db, prefix: 'gc', minAge: 0 })
    assert.equal(report.decisionsDeleted, 2)
    const left = await a.pool.query('SELECT gtrid FROM txkit_decision ORDER BY gtrid')
    assert.deepEqual(left.rows.map((r) => r.gtrid).sort(), [recentAbort, unconfigured].sort())
  })
})

describe('recovery: several workers at once', () => {
  test('an unreachable decision database fails its transactions, not the round', async () => {
    const b = await pgMember('b')
    const gone = fixture.pg('postgres://app:pw@127.0.0.1:1/none', 'a')
    const gtrid = decisionGtrid('gone', Date.now() - 60_000)
    await preparePg(b.pool, `${gtrid}.2.1`, gtrid)
    const report = await recover({
      databases: [gone.db, b.db],
      decisionLog: gone.db,
      prefix: 'gone',
      minAge: 0,
    })
    assert.deepEqual(
      report.transactions.map((tx) => [tx.gtrid, tx.action]),
      [[gtrid, 'failed']],
    )
    // Left prepared for a round that can read its decision.
    assert.deepEqual(await pgPrepared(b.pool), [`${gtrid}.2.1`])
    await b.pool.query(`ROLLBACK PREPARED '${gtrid}.2.1'`)
  })

  test('split a round between them: each transaction is finished by one worker, the other reports it left to it', async () => {
    const server = await PostgresServer.start({ maxPreparedTransactions: 700 })
    extraServers.push(server)
    const members = await Promise.all(
      ['a', 'b'].map(async (name) => {
        const client = new pg.Client({ connectionString: server.url() })
        await client.connect()
        const database = `split_${name}_${hex(3)}`
        await client.query(`CREATE DATABASE ${database}`)
        await client.end()
        const { pool, db } = fixture.pg(server.url(database), name)
        await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
        return { name, pool, db }
      }),
    )
    const [a, b] = members as [(typeof members)[0], (typeof members)[0]]
    await decisionTable(a.db)
    const count = 600
    const gtrids = Array.from({ length: count }, () => decisionGtrid('split', Date.now() - 60_000))
    await Promise.all(
      [a, b].map(async (member, which) => {
        for (const [index, gtrid] of gtrids.entries()) {
          if (index % 2 === which) await preparePg(member.pool, `${gtrid}.2.1`, gtrid)
        }
      }),
    )
    await a.pool.query(
      `INSERT INTO txkit_decision (gtrid, outcome, participants) SELECT g, 'C', '["a","b"]' FROM unnest($1::varchar[]) g`,
      [gtrids],
    )
    const options = { databases: [a.db, b.db], decisionLog: a.db, prefix: 'split', minAge: 0 }
    const reports = await Promise.all([
      recover({ ...options, concurrency: 4 }),
      recover({ ...options, concurrency: 4 }),
    ])

    // All committed, each by exactly one of the two workers.
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
    const marks =
      Number((await a.pool.query('SELECT count(*) FROM marks')).rows[0]?.count) +
      Number((await b.pool.query('SELECT count(*) FROM marks')).rows[0]?.count)
    assert.equal(marks, count)
    const committedBy = reports.map((report) =>
      report.transactions.filter((tx) => tx.action === 'committed').map((tx) => tx.gtrid),
    ) as [string[], string[]]
    assert.equal(
      committedBy[0].length + committedBy[1].length,
      count,
      JSON.stringify(reports.map((r) => r.counts)),
    )
    assert.deepEqual([...committedBy[0], ...committedBy[1]].sort(), [...gtrids].sort())
    for (const [index, report] of reports.entries()) {
      const mine = committedBy[index] ?? []
      assert.ok(mine.length > 0, `worker ${index} did nothing`)
      // What a worker did not do, it reports as left to the other, by id.
      const other = report.transactions.filter((tx) => tx.left === 'other-worker')
      assert.equal(other.length + mine.length, count)
      assert.deepEqual(
        other.map((tx) => tx.gtrid).sort(),
        [...(committedBy[1 - index] ?? [])].sort(),
      )
      assert.equal(report.counts.failed, 0)
    }
  })
})

describe('recovery: MariaDB branch still attached to a live session', () => {
  test('is left for the next round, then finished once the session is gone', async (t) => {
    if (mariadb === undefined) return t.skip('no MariaDB')
    const a = await pgMember('a')
    const url = await mariadb.createDatabase()
    const m = await fixture.mysql(url, 'm')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    await decisionTable(a.db)
    const gtrid = decisionGtrid('att', Date.now() - 60_000)
    const owner = await mysql.createConnection(url)
    await owner.query(`XA START '${gtrid}.2.1'`)
    await owner.query(`INSERT INTO marks VALUES ('attached')`)
    await owner.query(`XA END '${gtrid}.2.1'`)
    await owner.query(`XA PREPARE '${gtrid}.2.1'`)
    await a.pool.query(
      `INSERT INTO txkit_decision (gtrid, outcome, participants) VALUES ($1, 'C', '["a","m"]')`,
      [gtrid],
    )
    const options = { databases: [a.db, m.db], decisionLog: a.db, prefix: 'att', minAge: 0 }
    const first = await recover(options)
    assert.equal(first.transactions[0]?.action, 'left')
    assert.equal(first.transactions[0]?.left, 'attached-to-live-session')
    assert.equal(first.transactions[0]?.branches[0]?.database, 'm', 'named from the decision row')
    assert.deepEqual(await xaRecover(m.pool), [`${gtrid}.2.1`], 'not called done')
    await owner.end()
    let committed = false
    for (let i = 0; i < 20 && !committed; i++) {
      committed = (await recover(options)).transactions[0]?.action === 'committed'
      if (!committed) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.ok(committed)
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>(`SELECT tx FROM marks`)
    assert.deepEqual(
      rows.map((row) => row.tx),
      ['attached'],
    )
  })
})

describe('recovery: a stalled coordinator (SIGSTOP past minAge, then SIGCONT)', () => {
  const script = fileURLToPath(new URL('../../harness/crash-coordinator.js', import.meta.url))

  /** Starts a coordinator that stops itself at `stopAt`; resolves once it is stopped. */
  function stalled(settings: object) {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, TXKIT_CRASH: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
    const stopped = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('STOPPED')) setTimeout(resolve, 100)
      })
    })
    return {
      stopped,
      resume: async () => {
        child.kill('SIGCONT')
        await exited
        return output
      },
    }
  }

  for (const variant of [
    'decision log takes part',
    'decision log elsewhere',
    'decision kept by a participant',
  ] as const) {
    test(`decision (${variant}): atomic whatever the stall`, async () => {
      const a = await pgMember('a')
      const b = await pgMember('b')
      const c = await pgMember('c')
      await decisionTable(a.db)
      await decisionTable(c.db)
      const members = variant === 'decision log takes part' ? [a, b] : [b, c]
      const coordinator = stalled({
        databases: members.map((m) => ({ name: m.name, kind: 'postgres', url: m.url })),
        ...(variant === 'decision log takes part'
          ? { decisionLog: 'a' }
          : variant === 'decision log elsewhere'
            ? { decisionLogElsewhere: { name: 'a', kind: 'postgres', url: a.url } }
            : { decisionDatabases: ['c'] }),
        protocol: 'decision',
        prefix: 'stall',
        marker: 'stalled',
        stopAt: { step: 'decision', when: 'before' },
      })
      await coordinator.stopped
      await new Promise((resolve) => setTimeout(resolve, 300))
      const report = await recover({
        databases: [a.db, b.db, c.db],
        decisionLog: a.db,
        decisionDatabases: [b.db, c.db],
        prefix: 'stall',
        minAge: 200,
        lockTimeout: 200,
      })
      const output = await coordinator.resume()
      for (let round = 0; round < 3; round++) {
        await recover({
          databases: [a.db, b.db, c.db],
          decisionLog: a.db,
          decisionDatabases: [b.db, c.db],
          prefix: 'stall',
          minAge: 0,
        })
      }
      const present = await Promise.all(members.map((m) => hasMark(m.pool, 'stalled')))
      assert.ok(present.every(Boolean) || present.every((p) => !p), `split: ${present}`)
      if (variant !== 'decision log elsewhere') {
        // Its open 'C' row blocks the abort decision: the live coordinator is left alone, then commits.
        assert.equal(report.transactions[0]?.left, 'decision-open')
        assert.match(output, /^ACK /m)
        assert.ok(present.every(Boolean))
      } else {
        // Recovery decided 'A' first; the coordinator's own decision then fails: rolled back.
        assert.equal(report.transactions[0]?.action, 'rolled-back')
        assert.match(output, /ERROR .*already decided to abort/)
        assert.ok(present.every((p) => !p))
      }
      for (const m of [a, b, c]) assert.deepEqual(await pgPrepared(m.pool), [])
    })
  }

  test("sequential: the seed's rule splits the transaction (why decision is the default)", async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const coordinator = stalled({
      databases: [a, b].map((m) => ({ name: m.name, kind: 'postgres', url: m.url })),
      protocol: 'sequential',
      prefix: 'split',
      marker: 'stalled',
      stopAt: { step: 'prepare', when: 'before', index: 1 },
    })
    await coordinator.stopped
    // Branch 0 alone is prepared: a prefix, which the rule rolls back after the grace period.
    const first = await recover({
      databases: [a.db, b.db],
      prefix: 'split',
      protocol: 'sequential',
      minAge: 200,
    })
    assert.equal(first.transactions[0]?.action, 'rolled-back')
    const output = await coordinator.resume()
    // The coordinator goes on: prepares branch 1, finds branch 0 gone, and cannot know why.
    assert.match(output, /ERROR .*outcome .* is unknown/)
    const second = await recover({
      databases: [a.db, b.db],
      prefix: 'split',
      protocol: 'sequential',
      minAge: 200,
    })
    assert.equal(second.transactions[0]?.action, 'committed', '[1] of 2 is a suffix: committed')
    assert.deepEqual(
      [await hasMark(a.pool, 'stalled'), await hasMark(b.pool, 'stalled')],
      [false, true],
      'the documented split: one database committed, the other rolled back',
    )
  })
})

describe('recovery: a database server killed between prepare and commit', () => {
  test('is restarted, and recovery finishes the transaction', async () => {
    const own = await PostgresServer.start()
    extraServers.push(own)
    const server: TestServer = {
      kind: 'postgres',
      createDatabase: async () => {
        const client = new pg.Client({ connectionString: own.url() })
        await client.connect()
        const name = `k_${hex(4)}`
        await client.query(`CREATE DATABASE ${name}`)
        await client.end()
        return own.url(name)
      },
    }
    const a = await pgMember('a')
    const b = await pgMember('b', server)
    await decisionTable(a.db)
    const run = await runCrashCoordinator({
      databases: [a, b].map((m) => ({ name: m.name, kind: 'postgres' as const, url: m.url })),
      decisionLog: 'a',
      protocol: 'decision',
      prefix: 'kill',
      marker: 'server-killed',
      killAt: { step: 'decision', when: 'after' },
    })
    assert.equal(run.signal, 'SIGKILL')
    assert.equal((await pgPrepared(b.pool)).length, 1)
    await own.kill()
    const during = await recover({
      databases: [a.db, b.db],
      decisionLog: a.db,
      prefix: 'kill',
      minAge: 0,
    })
    assert.match(during.databases.find((d) => d.name === 'b')?.error ?? '', /could not be scanned/)
    await own.restart()
    const report = await recover({
      databases: [a.db, b.db],
      decisionLog: a.db,
      prefix: 'kill',
      minAge: 0,
    })
    assert.equal(report.transactions[0]?.action, 'committed', JSON.stringify(report))
    assert.equal(await hasMark(a.pool, 'server-killed'), true)
    assert.equal(await hasMark(b.pool, 'server-killed'), true)
    assert.deepEqual(await pgPrepared(b.pool), [])
  })
  test('MariaDB killed with a prepared branch: InnoDB keeps it, recovery commits it after restart', async (t) => {
    if (findMariadb() === undefined && process.env.TXKIT_TEST_MYSQL_URL === undefined)
      return t.skip('no MariaDB')
    if (process.env.TXKIT_TEST_MYSQL_URL !== undefined)
      return t.skip('needs a MariaDB the test may kill')
    const own = await MariadbServer.start()
    extraMariadb.push(own)
    const name = `k_${hex(4)}`
    const admin = await mysql.createConnection(own.url())
    await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    const m = await fixture.mysql(own.url(name), 'm')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const a = await pgMember('a')
    await decisionTable(a.db)
    const run = await runCrashCoordinator({
      databases: [
        { name: 'a', kind: 'postgres', url: a.url },
        { name: 'm', kind: 'mariadb', url: own.url(name) },
      ],
      decisionLog: 'a',
      protocol: 'decision',
      prefix: 'mkill',
      marker: 'maria-killed',
      killAt: { step: 'decision', when: 'after' },
    })
    assert.equal(run.signal, 'SIGKILL')
    await own.kill()
    await own.restart()
    assert.equal((await xaRecover(m.pool)).length, 1, 'the prepared branch survived the crash')
    const report = await recover({
      databases: [a.db, m.db],
      decisionLog: a.db,
      prefix: 'mkill',
      minAge: 0,
    })
    assert.equal(report.transactions[0]?.action, 'committed', JSON.stringify(report))
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks')
    assert.deepEqual(
      rows.map((row) => row.tx),
      ['maria-killed'],
    )
    assert.deepEqual(await xaRecover(m.pool), [])
  })
})
