import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import { runCli } from '../../harness/run-cli.js'
import { leaveInDoubt } from '../../harness/run-crash-coordinator.js'
import { withConnection } from '../../src/database/with-connection.js'
import { createCoordinator, isConfigurationError, recover } from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'
import { branchXid, newGtrid, parseXid } from '../../src/xid/xid.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

/** `accounts` and `orders`, each with `marks`; `accounts` holds the writers' decision log. */
async function deployment() {
  const [accounts, orders] = await Promise.all(
    ['accounts', 'orders'].map((name) => fixture.markedPg(servers.postgres, name)),
  )
  if (accounts === undefined || orders === undefined) throw new Error('no databases')
  await fixture.coordinator({ decisionLog: accounts.db }).createDecisionLog()
  const db = ['--db', `accounts=${accounts.url}`, '--db', `orders=${orders.url}`]
  return { accounts, orders, db }
}

/** A transfer whose coordinator is killed right after its decision: 'C' in accounts, orders prepared. */
async function inDoubt(accounts: { url: string }, orders: { url: string }, marker: string) {
  await leaveInDoubt({
    decision: { name: 'accounts', url: accounts.url },
    other: { name: 'orders', url: orders.url },
    prefix: 'txkit',
    marker,
  })
}

async function decisionRows(pool: { query(sql: string): Promise<{ rows: unknown[] }> }) {
  return (await pool.query('SELECT gtrid, outcome FROM txkit_decision ORDER BY gtrid')).rows
}

describe('transaction ids name their decision log', () => {
  test('the id carries the decision database (and a custom table), and old ids still parse', () => {
    const now = Date.UTC(2026, 10, 30)
    const gtrid = newGtrid('decision', 'billing', now, 'accounts')
    assert.match(gtrid, /^billing\.[0-9a-z]{25}\.accounts$/)
    const parsed = parseXid(branchXid(gtrid, 2, 1), 'billing')
    assert.deepEqual(parsed, {
      kind: 'decision',
      prefix: 'billing',
      gtrid,
      count: 2,
      index: 1,
      startedAt: now,
      decisionLog: 'accounts',
    })
    // Names with dots and a custom table's hash parse back whole.
    const dotted = newGtrid('decision', 'b', now, 'eu.accounts~3e1f')
    assert.equal(parseXid(branchXid(dotted, 12, 3), 'b').kind, 'decision')
    assert.equal(
      (parseXid(branchXid(dotted, 12, 3), 'b') as { decisionLog?: string }).decisionLog,
      'eu.accounts~3e1f',
    )
    // An id written before ids carried the log: still ours, with no tag.
    const old = newGtrid('decision', 'billing', now)
    const oldParsed = parseXid(branchXid(old, 2, 0), 'billing')
    assert.equal(oldParsed.kind, 'decision')
    assert.equal((oldParsed as { decisionLog?: string }).decisionLog, undefined)
  })

  test('the longest id fits MySQL’s 64-byte XA id; a decision database name too long for it is refused', () => {
    const name = 'a'.repeat(21)
    const longest = branchXid(newGtrid('decision', 'abcdefgh', Date.now(), name), 999, 998)
    assert.equal(Buffer.byteLength(longest), 64)
    assert.equal(parseXid(longest, 'abcdefgh').kind, 'decision')
    // No server is contacted: the checks happen before any query.
    const pool = new pg.Pool({ connectionString: 'postgres://app@db1:5432/orders' })
    const make = (dbName: string, table?: string) =>
      createCoordinator({
        decisionLog: { database: pgDatabase(pool, { name: dbName }), ...(table && { table }) },
      })
    assert.ok(make(name))
    assert.throws(
      () => make('a'.repeat(22)),
      (e: unknown) =>
        isConfigurationError(e) && /name "a{22}" is too long.*leaves 21 characters/.test(e.message),
    )
    assert.throws(
      () => make('a'.repeat(17), 'ops.decisions'),
      (e: unknown) => isConfigurationError(e) && /leaves 16 characters/.test(e.message),
    )
  })
})

describe('recovery pointed at the wrong decision log never splits, and says where the decision is', () => {
  test('the issue’s walk-through on the command line: status, init, recover elsewhere, then the right log', async () => {
    const { accounts, orders, db } = await deployment()
    await inDoubt(accounts, orders, 'walk')
    assert.deepEqual(await pgMarks(accounts.pool), ['walk'], 'the decision database committed')
    assert.equal((await pgPrepared(orders.pool)).length, 1)

    // status pointed at a database without a decision table: left, and no "create it".
    const status = await runCli(['status', ...db, '--decision-log', 'orders', '--min-age', '0s'])
    assert.equal(status.code, 1, status.stderr)
    assert.match(status.stdout, /leave \(other-decision-log\)/)
    assert.match(status.stdout, /recorded in decision log "accounts" \(database "accounts"/)
    assert.doesNotMatch(status.stdout + status.stderr, /txkit init|createDecisionLog/)

    // The operator creates a table there anyway: recovery still leaves the transaction alone.
    const init = await runCli(['init', ...db, '--decision-log', 'orders'])
    assert.equal(init.code, 0, init.stderr)
    const wrong = await runCli(['recover', ...db, '--decision-log', 'orders', '--min-age', '0s'])
    assert.equal(wrong.code, 1, wrong.stderr)
    assert.match(wrong.stdout, /0 committed, 0 rolled back, 1 left, 0 failed/)
    assert.deepEqual(await decisionRows(orders.pool), [], "no 'A' recorded in the wrong log")
    assert.equal((await pgPrepared(orders.pool)).length, 1, 'the branch is still prepared')

    // Without any decision log: left, naming where the decision lives, exit non-zero.
    const none = await runCli(['recover', ...db, '--min-age', '0s'])
    assert.equal(none.code, 1, none.stderr)
    assert.match(none.stdout, /0 committed, 0 rolled back, 1 left, 0 failed/)
    assert.match(none.stdout, /no decision log.*--decision-log NAME.*database "accounts"/)

    // The right database, but its table lost (set aside here): left, and never "create it".
    await accounts.pool.query('ALTER TABLE txkit_decision RENAME TO kept_aside')
    const lost = await runCli(['status', ...db, '--decision-log', 'accounts', '--min-age', '0s'])
    assert.equal(lost.code, 1, lost.stderr)
    assert.match(lost.stdout, /leave \(decision-table-missing\)/)
    assert.match(lost.stdout, /does not exist in database "accounts".*Do not create it/)
    assert.doesNotMatch(lost.stdout + lost.stderr, /txkit init|createDecisionLog/)
    const lostRecover = await runCli([
      'recover',
      ...db,
      '--decision-log',
      'accounts',
      '--min-age',
      '0s',
    ])
    assert.equal(lostRecover.code, 1, lostRecover.stderr)
    assert.match(lostRecover.stdout, /0 committed, 0 rolled back, 1 left, 0 failed/)
    await accounts.pool.query('ALTER TABLE kept_aside RENAME TO txkit_decision')

    // The right log: committed everywhere.
    const right = await runCli(['recover', ...db, '--decision-log', 'accounts', '--min-age', '0s'])
    assert.equal(right.code, 0, right.stdout + right.stderr)
    assert.match(right.stdout, /1 committed, 0 rolled back, 0 left, 0 failed/)
    assert.deepEqual(await pgMarks(orders.pool), ['walk'])
    assert.deepEqual(await pgPrepared(orders.pool), [])
  })

  test('recover(): another log, no log, a missing table, each left with the fix; the right log commits', async () => {
    const { accounts, orders } = await deployment()
    await inDoubt(accounts, orders, 'fn')
    const databases = [accounts.db, orders.db]

    const missing = await recover({ databases, decisionLog: orders.db, minAge: 0 })
    assert.equal(missing.transactions[0]?.left, 'other-decision-log')

    // A log with the right name but a lost table (dropped): never 'A', never "create it".
    await accounts.pool.query('ALTER TABLE txkit_decision RENAME TO kept_aside')
    const lost = await recover({ databases, decisionLog: accounts.db, minAge: 0 })
    assert.equal(lost.transactions[0]?.left, 'decision-table-missing')
    assert.match(
      lost.transactions[0]?.reason ?? '',
      /does not exist in database "accounts".*Do not create it/,
    )
    assert.equal(lost.counts.left, 1)
    await accounts.pool.query('ALTER TABLE kept_aside RENAME TO txkit_decision')

    const none = await recover({ databases, minAge: 0 })
    assert.equal(none.transactions[0]?.left, 'no-decision-log')
    assert.equal(none.counts.left, 1)

    const sequentialOnly = await recover({
      databases,
      decisionLog: accounts.db,
      protocol: 'sequential',
      minAge: 0,
    })
    assert.equal(sequentialOnly.transactions[0]?.left, 'protocol-not-selected')

    assert.equal((await pgPrepared(orders.pool)).length, 1, 'nothing was finished so far')
    const right = await recover({ databases, decisionLog: accounts.db, minAge: 0 })
    assert.equal(right.transactions[0]?.action, 'committed')
    assert.deepEqual(await pgMarks(orders.pool), ['fn'])
  })

  test('a decision table made after the transaction began (a lost table re-created) never records an abort', async () => {
    const { accounts, orders, db } = await deployment()
    await inDoubt(accounts, orders, 'recreated')
    // The table with the 'C' row is lost, and someone creates a fresh one.
    await accounts.pool.query('DROP TABLE txkit_decision')
    await fixture.coordinator({ decisionLog: accounts.db }).createDecisionLog()
    const report = await recover({
      databases: [accounts.db, orders.db],
      decisionLog: accounts.db,
      minAge: 0,
    })
    const [left] = report.transactions
    assert.equal(left?.action, 'left')
    assert.equal(left?.left, 'older-than-decision-log')
    assert.match(left?.reason ?? '', /began .* before the decision table txkit_decision existed/)
    assert.deepEqual(await decisionRows(accounts.pool), [], "no 'A' was recorded")
    assert.equal((await pgPrepared(orders.pool)).length, 1, 'the branch stays prepared')
    // The same through the command line: left, with why, exit 1, still no 'A'.
    const cli = await runCli(['recover', ...db, '--decision-log', 'accounts', '--min-age', '0s'])
    assert.equal(cli.code, 1, cli.stderr)
    assert.match(
      cli.stdout,
      /leave \(older-than-decision-log\).*before the decision table txkit_decision existed/,
    )
    assert.deepEqual(await decisionRows(accounts.pool), [])
    for (const xid of await pgPrepared(orders.pool))
      await orders.pool.query(`COMMIT PREPARED '${xid}'`)
  })

  test('an id of the older format (no log named) is recovered as before, unless older than the table', async () => {
    const { accounts, orders } = await deployment()
    const prepare = async (gtrid: string, marker: string) => {
      const client = await orders.pool.connect()
      await client.query('BEGIN')
      await client.query('INSERT INTO marks VALUES ($1)', [marker])
      await client.query(`PREPARE TRANSACTION '${branchXid(gtrid, 2, 1)}'`)
      client.release()
    }
    const before = newGtrid('decision', 'txkit', Date.now() - 3_600_000)
    await new Promise((resolve) => setTimeout(resolve, 5))
    const after = newGtrid('decision', 'txkit', Date.now())
    await prepare(before, 'before')
    await prepare(after, 'after')
    const report = await recover({
      databases: [accounts.db, orders.db],
      decisionLog: accounts.db,
      minAge: 0,
    })
    const byGtrid = new Map(report.transactions.map((t) => [t.gtrid, t]))
    assert.equal(byGtrid.get(before)?.left, 'older-than-decision-log')
    assert.equal(byGtrid.get(after)?.action, 'rolled-back', "no row, younger than the table: 'A'")
    assert.deepEqual(
      (await decisionRows(accounts.pool)).map((row) => (row as { gtrid: string }).gtrid),
      [after],
    )
    assert.deepEqual(await pgPrepared(orders.pool), [branchXid(before, 2, 1)])
    await orders.pool.query(`ROLLBACK PREPARED '${branchXid(before, 2, 1)}'`)
  })

  test('a table without a creation stamp (made by hand) is never trusted for an abort until stamped', async () => {
    const { accounts, orders } = await deployment()
    await withConnection(accounts.db, (connection) =>
      connection.query('COMMENT ON TABLE txkit_decision IS NULL'),
    )
    const gtrid = newGtrid('decision', 'txkit', Date.now(), 'accounts')
    const client = await orders.pool.connect()
    await client.query('BEGIN')
    await client.query(`PREPARE TRANSACTION '${branchXid(gtrid, 2, 1)}'`)
    client.release()
    const options = { databases: [accounts.db, orders.db], decisionLog: accounts.db, minAge: 0 }
    const unstamped = await recover(options)
    assert.equal(unstamped.transactions[0]?.left, 'older-than-decision-log')
    assert.match(unstamped.transactions[0]?.reason ?? '', /carries no creation time.*txkit init/)
    // Stamping an existing table dates it no later than its oldest row, here: now.
    await fixture.coordinator({ decisionLog: accounts.db }).createDecisionLog()
    const stamped = await recover(options)
    assert.equal(
      stamped.transactions[0]?.left,
      'older-than-decision-log',
      'it began before the stamp',
    )
    await orders.pool.query(`ROLLBACK PREPARED '${branchXid(gtrid, 2, 1)}'`)
  })
})
