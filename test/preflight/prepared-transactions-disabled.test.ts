/**
 * PostgreSQL's default `max_prepared_transactions = 0` fails every PREPARE TRANSACTION, which
 * matters only where a branch is prepared: what the check says of it, for each role the database
 * plays, and that the writers' transactions do what it says.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { runCli, runningCli } from '../../harness/run-cli.js'
import { startPostgres } from '../../harness/test-databases.js'
import { checkDeployment, type Finding } from '../../src/index.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

/** The findings about prepared transactions being disabled, as `database:severity`. */
const disabled = (findings: readonly Finding[]) =>
  findings
    .filter((finding) => finding.code === 'prepared-transactions-disabled')
    .map((finding) => `${finding.database}:${finding.severity}`)

describe('max_prepared_transactions = 0, by what the database does', () => {
  test('the only decision database: a warning naming what fails; the decision protocol commits there, a branch prepared there does not', async () => {
    const server = await startPostgres({ maxPreparedTransactions: 0 })
    const off = await fixture.markedPg(server, 'off')
    const on = await fixture.markedPg(servers.postgres, 'on')
    const keptOff = fixture.coordinator({ decisionLog: off.db })
    await keptOff.createDecisionLog()

    const check = await checkDeployment({ databases: [off.db, on.db], decisionLog: off.db })
    assert.equal(check.ok, true, JSON.stringify(check.findings))
    assert.deepEqual(disabled(check.findings), ['off:warning'])
    const finding = check.findings.find((each) => each.code === 'prepared-transactions-disabled')
    assert.match(
      finding?.message ?? '',
      /Transactions of the decision protocol still commit: this database keeps their decisions, and its own branch commits in one phase, without PREPARE\. What needs a branch here prepared rolls back: the parallel and sequential protocols, and a transaction whose decision another database keeps/,
    )
    assert.match(finding?.fix ?? '', /^Nothing while only the decision protocol runs/)

    // As it says: the quick start's transaction commits, its decision kept here ...
    await keptOff.transaction({ off: off.db, on: on.db }, async ({ off, on }) => {
      await off.query("INSERT INTO marks VALUES ('kept-here')")
      await on.query("INSERT INTO marks VALUES ('kept-here')")
    })
    for (const { pool } of [off, on]) {
      const { rows } = await pool.query("SELECT tx FROM marks WHERE tx = 'kept-here'")
      assert.equal(rows.length, 1)
    }
    // ... and one whose decision another database keeps, preparing its branch here, rolls back.
    const keptOn = fixture.coordinator({ decisionLog: on.db })
    await keptOn.createDecisionLog()
    await assert.rejects(
      keptOn.transaction({ off: off.db, on: on.db }, async ({ off, on }) => {
        await off.query("INSERT INTO marks VALUES ('kept-elsewhere')")
        await on.query("INSERT INTO marks VALUES ('kept-elsewhere')")
      }),
    )
    for (const { pool } of [off, on]) {
      const { rows } = await pool.query("SELECT tx FROM marks WHERE tx = 'kept-elsewhere'")
      assert.equal(rows.length, 0)
    }

    // The CLI prints it as a warning and exits 0.
    const cli = await runCli([
      'check',
      '--db',
      `off=${off.url}`,
      '--db',
      `on=${on.url}`,
      '--decision-log',
      'off',
    ])
    assert.equal(cli.code, 0, cli.stdout + cli.stderr)
    assert.match(cli.stdout, /^WARNING +off +prepared-transactions-disabled: /m)
  })

  test('a branch prepared there: an error when the decisions are kept elsewhere, in several databases, or the parallel protocol is checked', async () => {
    const server = await startPostgres({ maxPreparedTransactions: 0 })
    const off = fixture.pg(await server.createDatabase(), 'off')
    const on = fixture.pg(await servers.postgres.createDatabase(), 'on')
    const databases = [off.db, on.db]
    const elsewhere = await checkDeployment({ databases, decisionLog: on.db })
    assert.deepEqual(disabled(elsewhere.findings), ['off:error'])
    assert.match(
      elsewhere.findings.find((each) => each.database === 'off')?.message ?? '',
      /every branch here must be prepared, since this database was not named as one that keeps decisions.*no transaction with a branch here can commit/,
    )
    const shared = await checkDeployment({ databases, decisionDatabases: [off.db, on.db] })
    assert.deepEqual(disabled(shared.findings), ['off:error'])
    assert.equal(shared.ok, false)
    const parallel = await checkDeployment({
      databases,
      decisionLog: off.db,
      fenceTable: 'txkit_fence',
    })
    assert.deepEqual(disabled(parallel.findings), ['off:error'])
    assert.match(
      parallel.findings.find((each) => each.code === 'prepared-transactions-disabled')?.message ??
        '',
      /a transaction whose decision another decision database keeps, or of the parallel protocol \(fence tables\), must prepare its branch here, and rolls back/,
    )
  })

  test('txkit watch --decision-databases: its preflight counts the decisions kept there (a warning, not an error)', async () => {
    const server = await startPostgres({ maxPreparedTransactions: 0 })
    const url = await server.createDatabase()
    const decisions = fixture.pg(url, 'off')
    await fixture.coordinator({ decisionDatabases: [decisions.db] }).createDecisionLog()
    const watch = runningCli([
      'watch',
      '--db',
      `off=${url}`,
      '--decision-databases',
      'off',
      '--interval',
      '200ms',
      '--metrics-port',
      '0',
    ])
    try {
      const port = Number((await watch.until(/ port=(\d+)/))?.[1])
      assert.ok(Number.isInteger(port) && port > 0, watch.stderr())
      assert.ok(
        await watch.until(/warn txkit watch: preflight: max_prepared_transactions is 0/),
        watch.stderr(),
      )
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      assert.match(
        metrics,
        /^txkit_preflight_findings\{database="off",code="prepared-transactions-disabled",severity="warning"\} 1$/m,
      )
      assert.match(metrics, /^txkit_preflight_errors 0$/m)
    } finally {
      await watch.stop()
    }
  })
})
