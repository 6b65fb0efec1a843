/**
 * Failover of the database that holds the decisions, on real PostgreSQL streaming replication.
 * Transactions are acknowledged at their decision (`acknowledge: 'decision'`), the primary is
 * killed right after, its standby promoted, and recovery pointed at the standby under the same
 * database names. With a synchronous standby every acknowledged transaction ends committed
 * everywhere; with an asynchronous one (replication stalled, as a lagging standby is) the lost 'C'
 * rows are decided 'A' there: callers told "committed" end with nothing committed.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { CuttingProxy } from '../../harness/cutting-proxy.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import type { PostgresServer } from '../../harness/postgres-server.js'
import { startPrimaryAndStandby } from '../../harness/test-databases.js'
import { waitFor } from '../../harness/wait-for.js'
import {
  type Coordinator,
  checkDeployment,
  isOutcomeUnknownError,
  isTransactionRolledBackError,
  OutcomeUnknownError,
  type ProtocolStepObserver,
  recover,
} from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

type Told = 'committed' | 'rolled-back' | 'outcome-unknown'

/** Runs `statement` on `url` with a client of its own. */
async function run(url: string, statement: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await client.query(statement)
  } finally {
    await client.end()
  }
}

/**
 * `decisions` (holding the decision log, and written to) and `orders` on a primary with a standby;
 * `ledger` on another server. txkit's role has synchronous_commit = on, as the docs say.
 */
async function deployment(
  synchronous: boolean,
  onStep: ProtocolStepObserver,
  replicateThrough?: (primaryPort: number) => Promise<number>,
) {
  const { primary, standby } = await startPrimaryAndStandby(synchronous, replicateThrough)
  const primaryServer = primary.owned as PostgresServer
  const standbyServer = standby.owned as PostgresServer
  // What users set for the role txkit connects as (the harness's command line says off).
  await run(primaryServer.url(), 'ALTER ROLE postgres SET synchronous_commit = on')
  const onPrimary = async (name: string) => fixture.markedPg(primary, name)
  const decisions = await onPrimary('decisions')
  const orders = await onPrimary('orders')
  const ledger = await fixture.markedPg(servers.postgres, 'ledger')
  const coordinator = fixture.coordinator({
    decisionLog: decisions.db,
    acknowledge: 'decision',
    onStep,
  })
  await coordinator.createDecisionLog()
  await caughtUp(primaryServer, standbyServer)
  /** `decisions` and `orders` as they are on the standby, under the same names. */
  const onStandby = (database: { name: string; url: string }) =>
    fixture.pg(standbyServer.url(new URL(database.url).pathname.slice(1)), database.name)
  return { primaryServer, standbyServer, decisions, orders, ledger, coordinator, onStandby }
}

/** Waits until the standby has replayed everything the primary has written so far. */
async function caughtUp(primary: PostgresServer, standby: PostgresServer): Promise<void> {
  const { rows } = await run(primary.url(), 'SELECT pg_current_wal_insert_lsn()::text AS lsn')
  const lsn = String(rows[0]?.lsn)
  await waitFor('the standby to replay the primary', 20_000, async () => {
    const replayed = await run(
      standby.url(),
      `SELECT pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn AS done`,
    )
    return replayed.rows[0]?.done === true
  })
}

/**
 * Writers commit transactions marking all three databases until `stop` is true; what each was told
 * is recorded. `onAcknowledged` sees each acknowledged id as soon as its commit returns.
 */
async function writers(
  coordinator: Coordinator,
  databases: Parameters<Coordinator['transaction']>[0],
  count: number,
  stop: () => boolean,
  onAcknowledged: (id: string) => void,
): Promise<Map<string, Told>> {
  const told = new Map<string, Told>()
  let next = 0
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (!stop()) {
        const id = `fo-${next++}`
        let workFailed = false
        try {
          await coordinator.transaction(databases, async (branches) => {
            try {
              for (const branch of Object.values(branches)) {
                await branch.query('INSERT INTO marks (tx) VALUES ($1)', [id])
              }
            } catch (error) {
              workFailed = true
              throw error
            }
          })
          told.set(id, 'committed')
          onAcknowledged(id)
        } catch (error) {
          // A statement of the work failing (the server died under it) rolls everything back.
          if (workFailed || isTransactionRolledBackError(error)) told.set(id, 'rolled-back')
          else if (isOutcomeUnknownError(error)) told.set(id, 'outcome-unknown')
          else throw error
        }
      }
    }),
  )
  return told
}

describe('failover of the database holding the decisions', () => {
  test('a synchronous standby: every transaction acknowledged before the primary was killed ends committed everywhere', async () => {
    // From the 20th acknowledgement on, background commits are held (until after recovery), so
    // that the kill finds acknowledged branches prepared: of the five acknowledged after it, at
    // most three (one per other writer) had begun their background commit before the hold.
    let holding = false
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    const d = await deployment(true, async (event) => {
      if (event.step === 'commit' && event.when === 'before' && holding) await held
    })
    try {
      const before = await checkDeployment({
        databases: [d.decisions.db, d.orders.db, d.ledger.db],
        decisionLog: d.decisions.db,
      })
      assert.deepEqual(before, { ok: true, findings: [] })

      let killed: Promise<void> | undefined
      let acknowledged = 0
      const told = await writers(
        d.coordinator,
        { decisions: d.decisions.db, orders: d.orders.db, ledger: d.ledger.db },
        4,
        () => killed !== undefined,
        () => {
          if (++acknowledged === 20) holding = true
          // SIGKILL right after the 25th acknowledgement, while others are mid-commit.
          if (acknowledged === 25) killed = d.primaryServer.kill()
        },
      )
      await killed
      const committedTold = [...told].filter(([, what]) => what === 'committed').map(([id]) => id)
      assert.ok(committedTold.length >= 25, `acknowledged ${committedTold.length}`)

      await d.standbyServer.promote()
      const decisions = d.onStandby(d.decisions)
      const orders = d.onStandby(d.orders)
      // The branches the coordinator had not committed yet were replicated prepared: they wait.
      const stillPrepared =
        (await pgPrepared(orders.pool)).length + (await pgPrepared(d.ledger.pool)).length
      const report = await recover({
        databases: [decisions.db, orders.db, d.ledger.db],
        decisionLog: decisions.db,
        minAge: 0,
      })
      assert.equal(report.counts.failed, 0, JSON.stringify(report.transactions))
      assert.equal(report.counts.left, 0, JSON.stringify(report.transactions))
      assert.ok(stillPrepared > 0, 'some acknowledged branches were still prepared at the kill')

      const on = {
        decisions: new Set(await pgMarks(decisions.pool)),
        orders: new Set(await pgMarks(orders.pool)),
        ledger: new Set(await pgMarks(d.ledger.pool)),
      }
      for (const [id, what] of told) {
        const places = Object.entries(on)
          .filter(([, marks]) => marks.has(id))
          .map(([n]) => n)
        // Never split; "committed" means everywhere, "rolled back" means nowhere.
        assert.ok(places.length === 0 || places.length === 3, `${id} (${what}) split: ${places}`)
        if (what === 'committed') assert.equal(places.length, 3, `${id} acknowledged, on ${places}`)
        if (what === 'rolled-back')
          assert.equal(places.length, 0, `${id} rolled back, on ${places}`)
      }
      for (const pool of [decisions.pool, orders.pool, d.ledger.pool]) {
        assert.deepEqual(await pgPrepared(pool), [])
      }
    } finally {
      // The held commits find their branches finished by recovery (or their server gone): they
      // are logged and left, and give their sessions back.
      release()
    }
  })

  test('an asynchronous standby that lags: acknowledged decisions are lost and recovery decides them A (the hazard)', async () => {
    // The branches acknowledged at the decision stay prepared until the kill.
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let proxy: CuttingProxy | undefined
    const d = await deployment(
      false,
      async (event) => {
        if (event.step === 'commit' && event.when === 'before') await held
      },
      async (port) => {
        proxy = await CuttingProxy.start(port)
        return proxy.port
      },
    )
    try {
      // Preflight says so before any transaction runs.
      const check = await checkDeployment({
        databases: [d.decisions.db, d.orders.db, d.ledger.db],
        decisionLog: d.decisions.db,
      })
      assert.deepEqual(
        check.findings.map((finding) => `${finding.database}:${finding.code}`),
        ['decisions:decisions-on-async-standby'],
      )

      // The standby stops hearing from the primary (a lagging or cut-off standby); the primary,
      // replicating asynchronously, does not wait for it.
      if (proxy === undefined) throw new Error('no proxy')
      proxy.partitioned = true
      let stop = false
      const told = await writers(
        d.coordinator,
        { decisions: d.decisions.db, orders: d.orders.db, ledger: d.ledger.db },
        1,
        () => stop,
        (id) => {
          stop = id === 'fo-4'
        },
      )
      const ids = ['fo-0', 'fo-1', 'fo-2', 'fo-3', 'fo-4']
      assert.deepEqual(
        Object.fromEntries(told),
        Object.fromEntries(ids.map((id) => [id, 'committed'])),
      )
      // Committed on the primary with its decision rows; prepared on the ledger.
      assert.deepEqual(await pgMarks(d.decisions.pool), ids)
      assert.equal((await pgPrepared(d.ledger.pool)).length, 5)
      await d.primaryServer.kill()
      await proxy.stop()
      await d.standbyServer.promote()

      const decisions = d.onStandby(d.decisions)
      const orders = d.onStandby(d.orders)
      const report = await recover({
        databases: [decisions.db, orders.db, d.ledger.db],
        decisionLog: decisions.db,
        minAge: 0,
      })
      // No row on the promoted standby: recovery records 'A' and rolls the ledger's branches back.
      // Every caller was told "committed"; nothing of theirs is committed anywhere now.
      assert.deepEqual(
        report.transactions.map((tx) => `${tx.action}:${tx.reason}`),
        Array(5).fill("rolled-back:no decision row: recorded 'A', roll back"),
      )
      const { rows } = await decisions.pool.query<{ outcome: string }>(
        'SELECT outcome FROM txkit_decision',
      )
      assert.deepEqual(
        rows.map((row) => row.outcome),
        Array(5).fill('A'),
      )
      assert.deepEqual(await pgMarks(decisions.pool), [])
      assert.deepEqual(await pgMarks(orders.pool), [])
      assert.deepEqual(await pgMarks(d.ledger.pool), [])
      assert.deepEqual(await pgPrepared(d.ledger.pool), [])
    } finally {
      release()
    }
  })
  test('a cancelled wait for the synchronous standby is not taken for a commit: outcome unknown, and recovery after the failover leaves nothing split', async () => {
    let proxy: CuttingProxy | undefined
    const { primary, standby } = await startPrimaryAndStandby(true, async (port) => {
      proxy = await CuttingProxy.start(port)
      return proxy.port
    })
    const primaryServer = primary.owned as PostgresServer
    const standbyServer = standby.owned as PostgresServer
    await run(primaryServer.url(), 'ALTER ROLE postgres SET synchronous_commit = on')
    const url = await primary.createDatabase()
    const database = new URL(url).pathname.slice(1)
    // node-postgres shows txkit the server's warnings; postgres.js does not (README).
    const pool = new pg.Pool({ connectionString: url, max: 5 })
    pool.on('error', () => {})
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
    const decisions = pgDatabase(pool, { name: 'decisions' })
    const ledger = await fixture.markedPg(servers.postgres, 'ledger')
    const coordinator = fixture.coordinator({ decisionLog: decisions })
    await coordinator.createDecisionLog()
    await caughtUp(primaryServer, standbyServer)
    if (proxy === undefined) throw new Error('no proxy')
    proxy.partitioned = true
    try {
      const commit = coordinator.transaction({ decisions, ledger: ledger.db }, async (branches) => {
        await branches.decisions.query('INSERT INTO marks (tx) VALUES ($1)', ['cw-1'])
        await branches.ledger.query('INSERT INTO marks (tx) VALUES ($1)', ['cw-1'])
      })
      const outcome = commit.then(
        () => 'committed',
        (error: unknown) => error,
      )
      // The decision's COMMIT waits for the standby; someone cancels that wait.
      let pid: number | undefined
      await waitFor('the COMMIT waiting for the synchronous standby', 10_000, async () => {
        const { rows } = await run(
          primaryServer.url(),
          "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
        )
        pid = rows[0]?.pid as number | undefined
        return pid !== undefined
      })
      await run(primaryServer.url(), `SELECT pg_cancel_backend(${pid})`)
      const told = await outcome
      // PostgreSQL answered the COMMIT with success and a WARNING; txkit does not call it committed.
      assert.ok(told instanceof OutcomeUnknownError, `told: ${String(told)}`)
      assert.match(told.message, /canceling wait for synchronous replication/)
      // Nothing was committed behind the unconfirmed decision: the ledger's branch waits.
      assert.equal((await pgPrepared(ledger.pool)).length, 1)
      assert.deepEqual(await pgMarks(ledger.pool), [])
    } finally {
      await pool.end()
    }

    await primaryServer.kill()
    await proxy.stop()
    await standbyServer.promote()
    const promoted = fixture.pg(standbyServer.url(database), 'decisions')
    const report = await recover({
      databases: [promoted.db, ledger.db],
      decisionLog: promoted.db,
      minAge: 0,
    })
    assert.deepEqual(
      report.transactions.map((tx) => `${tx.action}:${tx.reason}`),
      ["rolled-back:no decision row: recorded 'A', roll back"],
    )
    // Unknown, then nowhere: not split.
    assert.deepEqual(await pgMarks(promoted.pool), [])
    assert.deepEqual(await pgMarks(ledger.pool), [])
    assert.deepEqual(await pgPrepared(ledger.pool), [])
  })

  test('a cancelled wait for the synchronous standby on a PREPARE: the branch is unknown and rolled back, nothing committed', async () => {
    let proxy: CuttingProxy | undefined
    const { primary, standby } = await startPrimaryAndStandby(true, async (port) => {
      proxy = await CuttingProxy.start(port)
      return proxy.port
    })
    const primaryServer = primary.owned as PostgresServer
    const standbyServer = standby.owned as PostgresServer
    await run(primaryServer.url(), 'ALTER ROLE postgres SET synchronous_commit = on')
    // `orders` on the primary, prepared; the decision is kept by `ledger`, on another server.
    // node-postgres shows txkit the server's warnings; postgres.js does not (README).
    const url = await primary.createDatabase()
    const database = new URL(url).pathname.slice(1)
    const pool = new pg.Pool({ connectionString: url, max: 5 })
    pool.on('error', () => {})
    try {
      await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
      const orders = pgDatabase(pool, { name: 'orders' })
      const ledger = await fixture.markedPg(servers.postgres, 'ledger')
      const coordinator = fixture.coordinator({ decisionLog: ledger.db })
      await coordinator.createDecisionLog()
      await caughtUp(primaryServer, standbyServer)
      if (proxy === undefined) throw new Error('no proxy')
      proxy.partitioned = true
      const commit = coordinator.transaction({ orders, ledger: ledger.db }, async (branches) => {
        await branches.orders.query('INSERT INTO marks (tx) VALUES ($1)', ['cp-1'])
        await branches.ledger.query('INSERT INTO marks (tx) VALUES ($1)', ['cp-1'])
      })
      const outcome = commit.then(
        () => 'committed',
        (error: unknown) => error,
      )
      // The PREPARE waits for the standby; someone cancels that wait.
      const waiting = async (statement: RegExp) => {
        let found: { pid: number; query: string } | undefined
        await waitFor(
          `a statement matching ${statement} waiting for the standby`,
          60_000,
          async () => {
            const { rows } = await run(
              primaryServer.url(),
              "SELECT pid, query FROM pg_stat_activity WHERE wait_event = 'SyncRep'",
            )
            found = rows.find((row) => statement.test(String(row.query)))
            return found !== undefined
          },
        )
        if (found === undefined) throw new Error('unreachable')
        return found
      }
      const prepare = await waiting(/PREPARE TRANSACTION/)
      await run(primaryServer.url(), `SELECT pg_cancel_backend(${prepare.pid})`)
      // PostgreSQL answered the PREPARE with success and a WARNING: the prepared branch may be
      // missing on the standby. txkit rolls it back rather than go on to the decision; that
      // ROLLBACK PREPARED waits for the standby in turn, and is cancelled too.
      const next = await waiting(/^(?!.*PREPARE TRANSACTION)/s)
      await run(primaryServer.url(), `SELECT pg_cancel_backend(${next.pid})`)
      const told = await outcome
      assert.match(next.query, /ROLLBACK PREPARED/, 'the branch is rolled back, not committed')
      assert.ok(isTransactionRolledBackError(told), `told: ${String(told)}`)
      assert.match(told.message, /canceling wait for synchronous replication/)
      // Nothing committed or left prepared, and no decision row.
      assert.deepEqual(await pgMarks(pool), [])
      assert.deepEqual(await pgPrepared(pool), [])
      assert.deepEqual(await pgMarks(ledger.pool), [])
      assert.deepEqual(await pgPrepared(ledger.pool), [])
      assert.deepEqual((await ledger.pool.query('SELECT outcome FROM txkit_decision')).rows, [])
      await coordinator.close()

      // Nor on the standby, once promoted: recovery finds nothing to finish.
      await pool.end()
      await primaryServer.kill()
      await proxy.stop()
      await standbyServer.promote()
      const promoted = fixture.pg(standbyServer.url(database), 'orders')
      const report = await recover({
        databases: [promoted.db, ledger.db],
        decisionLog: ledger.db,
        minAge: 0,
      })
      assert.deepEqual(report.transactions, [])
      assert.deepEqual(await pgMarks(promoted.pool), [])
      assert.deepEqual(await pgPrepared(promoted.pool), [])
    } finally {
      // Had it failed midway, nothing may be left waiting for the partitioned standby (a clean
      // shutdown of the primary would wait for it too).
      await primaryServer.kill()
      await proxy?.stop()
      if (!pool.ended) await pool.end()
    }
  })
})
