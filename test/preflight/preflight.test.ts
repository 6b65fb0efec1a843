/**
 * Preflight (`checkDeployment`, `txkit check`): each finding against a real server set up wrong,
 * and nothing found where nothing is wrong.
 */
import assert from 'node:assert/strict'
import { createServer, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { galeraProvider } from '../../harness/mariadb-server.js'
import { hasPgbouncer, PgbouncerServer } from '../../harness/pgbouncer-server.js'
import { fakeTimeLibrary, type PostgresServer } from '../../harness/postgres-server.js'
import { runCli, runningCli } from '../../harness/run-cli.js'
import {
  startMariadb,
  startPostgres,
  startPrimaryAndStandby,
} from '../../harness/test-databases.js'
import { waitFor } from '../../harness/wait-for.js'
import type { DriverConnection } from '../../src/driver/driver-connection.js'
import { checkDeployment, type Finding, isConfigurationError } from '../../src/index.js'
import { mysqlPreflight } from '../../src/mysql/mysql-preflight.js'

const servers = serversForFile()
const { fixture } = servers

const codes = (findings: readonly Finding[]) =>
  findings.map((finding) => `${finding.database}:${finding.code}:${finding.severity}`).sort()

describe('checkDeployment', () => {
  test('PostgreSQL with max_prepared_transactions = 0: an error naming the setting and the restart', async () => {
    const disabled = await startPostgres({ maxPreparedTransactions: 0 })
    const off = fixture.pg(await disabled.createDatabase(), 'off')
    const on = fixture.pg(await servers.postgres.createDatabase(), 'on')
    const check = await checkDeployment({ databases: [off.db, on.db] })
    assert.equal(check.ok, false)
    assert.deepEqual(codes(check.findings), ['off:prepared-transactions-disabled:error'])
    assert.match(
      check.findings[0]?.fix ?? '',
      /max_prepared_transactions to at least max_connections \(\d+\).*restart/,
    )

    // The CLI says the same, exits 1, and prints no password.
    const cli = await runCli(['check', '--db', `off=${await disabled.createDatabase()}`])
    assert.equal(cli.code, 1, cli.stdout + cli.stderr)
    assert.match(
      cli.stdout,
      /^ERROR +off +prepared-transactions-disabled: max_prepared_transactions is 0/m,
    )
    assert.match(cli.stdout, /fix: Set max_prepared_transactions/)

    // txkit watch exports it as metrics and logs it once. The decisions are kept in "on" (so
    // "off" must prepare its branches: an error), whose decision table is there at start.
    const watchedUrl = await disabled.createDatabase()
    const decisionsUrl = await servers.postgres.createDatabase()
    const decisions = fixture.pg(decisionsUrl, 'on')
    await fixture.coordinator({ decisionLog: decisions.db }).createDecisionLog()
    const watch = runningCli([
      'watch',
      '--db',
      `off=${watchedUrl}`,
      '--db',
      `on=${decisionsUrl}`,
      '--decision-log',
      'on',
      '--interval',
      '200ms',
      '--metrics-port',
      '0',
    ])
    try {
      const port = Number((await watch.until(/ port=(\d+)/))?.[1])
      assert.ok(Number.isInteger(port) && port > 0, watch.stderr())
      assert.ok(await watch.until(/preflight: max_prepared_transactions is 0/), watch.stderr())
      let metrics = ''
      for (let i = 0; i < 100 && !/^txkit_preflight_errors 1$/m.test(metrics); i++) {
        metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.match(metrics, /^txkit_preflight_errors 1$/m)
      assert.match(
        metrics,
        /^txkit_preflight_findings\{database="off",code="prepared-transactions-disabled",severity="error"\} 1$/m,
      )
      // The preflight runs again every 20 rounds: a finding new since the first run (the decision
      // table dropped) is logged by the rerun, at round 20; the old one is not logged again.
      await decisions.pool.query('DROP TABLE txkit_decision')
      const rerun = /preflight: The decision table txkit_decision does not exist/
      await waitFor('the preflight rerun to log the missing decision table', 120_000, async () =>
        rerun.test(watch.stderr()),
      )
      const log = watch.stderr()
      const roundsBefore = log
        .slice(0, log.search(rerun))
        .match(/txkit watch: (round (done|failed)|another worker holds the recovery lock)/g)
      assert.ok((roundsBefore?.length ?? 0) >= 20, `rerun after ${roundsBefore?.length} rounds`)
      assert.equal(log.match(/preflight: max_prepared/g)?.length, 1, log)
      for (let i = 0; i < 100 && !/^txkit_preflight_errors 2$/m.test(metrics); i++) {
        metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.match(metrics, /^txkit_preflight_errors 2$/m)
    } finally {
      await watch.stop()
    }
  })

  test('fewer prepared-transaction slots than the expected concurrency: a warning, still ok', async () => {
    const db = fixture.pg(await servers.postgres.createDatabase(), 'a')
    const { rows } = await db.pool.query<{ max: string }>(
      "SELECT current_setting('max_prepared_transactions') AS max",
    )
    const slots = Number(rows[0]?.max)
    const over = await checkDeployment({ databases: [db.db], concurrency: slots + 1 })
    assert.equal(over.ok, true)
    assert.deepEqual(codes(over.findings), ['a:prepared-transactions-too-few:warning'])
    assert.match(
      over.findings[0]?.message ?? '',
      new RegExp(`is ${slots}, fewer than the ${slots + 1}`),
    )
    const within = await checkDeployment({ databases: [db.db], concurrency: slots })
    assert.deepEqual(within.findings, [])
  })

  test('the decision table and fence tables missing (PostgreSQL and MariaDB), then created: nothing found', async (t) => {
    const a = fixture.pg(await servers.postgres.createDatabase(), 'a')
    const databases = [a.db]
    if (servers.mariadb !== undefined) {
      databases.push((await fixture.mysql(await servers.mariadb.createDatabase(), 'm')).db)
    } else {
      t.diagnostic('no MariaDB: PostgreSQL only')
    }
    const options = { databases, decisionLog: a.db, fenceTable: 'txkit_fence' }
    const before = await checkDeployment(options)
    assert.equal(before.ok, false)
    assert.deepEqual(
      codes(before.findings),
      [
        'a:decision-table-missing:error',
        'a:fence-table-missing:error',
        ...(databases.length > 1 ? ['m:fence-table-missing:error'] : []),
      ].sort(),
    )
    assert.match(
      before.findings.find((f) => f.code === 'decision-table-missing')?.fix ?? '',
      /txkit init/,
    )
    const coordinator = fixture.coordinator({ decisionLog: a.db, protocol: 'parallel' })
    await coordinator.createDecisionLog()
    for (const db of databases) await coordinator.createFenceTable(db)
    await coordinator.close()
    const after = await checkDeployment(options)
    assert.deepEqual(after, { ok: true, findings: [] })
    // Another decision table name is looked for by that name.
    const other = await checkDeployment({
      databases,
      decisionLog: { database: a.db, table: 'other_log' },
    })
    assert.deepEqual(codes(other.findings), ['a:decision-table-missing:error'])
  })

  test('a server whose clock is two minutes ahead: a warning naming the offset; in-sync servers none', async (t) => {
    if (fakeTimeLibrary() === undefined) {
      // CI installs it (.ci/run): there the finding is always tested.
      if (process.env.CI === 'true')
        throw new Error('CI=true: libfaketime missing (apt-get install faketime)')
      t.skip('no libfaketime (apt-get install faketime)')
      return
    }
    const ahead = await startPostgres({ clockOffset: '+120s' })
    const skewed = fixture.pg(await ahead.createDatabase(), 'skewed')
    const fine = fixture.pg(await servers.postgres.createDatabase(), 'fine')
    const check = await checkDeployment({ databases: [skewed.db, fine.db] })
    assert.equal(check.ok, true)
    assert.deepEqual(codes(check.findings), ['skewed:clock-skew:warning'])
    assert.match(check.findings[0]?.message ?? '', /clock is 1[12]\d\.\d s ahead of this host's/)
    // A bound above the offset: nothing.
    const loose = await checkDeployment({ databases: [skewed.db], maxClockSkew: 300_000 })
    assert.deepEqual(loose.findings, [])
  })

  test('PgBouncer in transaction mode: an error (session locks and settings are shared); in session mode none', async (t) => {
    if (!hasPgbouncer()) {
      if (process.env.CI === 'true')
        throw new Error('CI=true: pgbouncer missing (apt-get install pgbouncer)')
      t.skip('no pgbouncer (apt-get install pgbouncer)')
      return
    }
    const direct = new URL(await servers.postgres.createDatabase())
    const database = direct.pathname.slice(1)
    for (const mode of ['transaction', 'session'] as const) {
      const bouncer = await PgbouncerServer.start(Number(direct.port), mode)
      try {
        const pooled = fixture.pg(bouncer.url(database), 'pooled')
        const check = await checkDeployment({ databases: [pooled.db] })
        if (mode === 'transaction') {
          assert.equal(check.ok, false)
          assert.deepEqual(codes(check.findings), ['pooled:transaction-pooler:error'])
          assert.match(check.findings[0]?.fix ?? '', /pool_mode = session/)
        } else {
          assert.deepEqual(check, { ok: true, findings: [] })
        }
        await pooled.driver.close()
        await pooled.pool.end()
      } finally {
        await bouncer.stop()
      }
    }
  })

  test('a MariaDB Galera node: an error, and XA START is indeed refused there; plain MariaDB none', async (t) => {
    if (servers.mariadb === undefined || galeraProvider() === undefined) {
      if (process.env.CI === 'true') throw new Error('CI=true: MariaDB or galera-4 missing')
      t.skip('no MariaDB or no galera-4 (apt-get install galera-4)')
      return
    }
    const galera = await startMariadb({ galera: true })
    const node = await fixture.mysql(await galera.createDatabase(), 'node')
    const plain = await fixture.mysql(await servers.mariadb.createDatabase(), 'plain')
    const check = await checkDeployment({ databases: [node.db, plain.db] })
    assert.equal(check.ok, false)
    assert.deepEqual(codes(check.findings), ['node:galera-no-xa:error'])
    const connection = await node.pool.getConnection()
    try {
      await assert.rejects(
        connection.query("XA START 'txkit-preflight-probe'"),
        /XA transactions with Galera replication/,
      )
    } finally {
      connection.release()
    }
  })

  test('the decision database with only an asynchronous standby: an error; a synchronous one counts only with synchronous_commit on', async () => {
    const asynchronous = await startPrimaryAndStandby(false)
    const decisions = fixture.pg(await asynchronous.primary.createDatabase(), 'decisions')
    const other = fixture.pg(await asynchronous.primary.createDatabase(), 'other')
    const check = await checkDeployment({
      databases: [decisions.db, other.db],
      decisionLog: decisions.db,
    })
    // Only the database holding decisions is concerned (the missing table is another finding).
    assert.deepEqual(codes(check.findings), [
      'decisions:decision-table-missing:error',
      'decisions:decisions-on-async-standby:error',
    ])
    assert.match(
      check.findings.find((f) => f.code === 'decisions-on-async-standby')?.message ?? '',
      /replicates only asynchronously \("standby1" async\)/,
    )

    const synchronous = await startPrimaryAndStandby(true)
    const url = await synchronous.primary.createDatabase()
    const held = fixture.pg(url, 'held')
    const coordinator = fixture.coordinator({ decisionLog: held.db })
    await coordinator.createDecisionLog()
    await coordinator.close()
    // The harness runs its servers with synchronous_commit = off: commits do not wait.
    const off = await checkDeployment({ databases: [held.db], decisionLog: held.db })
    assert.deepEqual(codes(off.findings), ['held:decisions-on-async-standby:error'])
    assert.match(off.findings[0]?.message ?? '', /synchronous_commit is 'off'/)
    const database = new URL(url).pathname.slice(1)
    await held.pool.query(`ALTER DATABASE ${database} SET synchronous_commit = on`)
    const on = fixture.pg(url, 'held')
    assert.deepEqual(await checkDeployment({ databases: [on.db], decisionLog: on.db }), {
      ok: true,
      findings: [],
    })
  })

  test("a standby whose max_prepared_transactions is lower than its primary's (raised after it started): an error on the standby", async () => {
    const { primary, standby } = await startPrimaryAndStandby(false)
    const url = await primary.createDatabase()
    const database = new URL(url).pathname.slice(1)
    const primaryServer = primary.owned as PostgresServer
    const standbyServer = standby.owned as PostgresServer
    const main = fixture.pg(url, 'main')
    const replica = fixture.pg(standbyServer.url(database), 'replica')
    // The database must have reached the standby before it is opened there.
    await waitFor('the database on the standby', 10_000, async () => {
      try {
        await replica.pool.query('SELECT 1')
        return true
      } catch {
        return false
      }
    })
    const options = { databases: [main.db], standbys: { main: [replica.db] } }
    assert.deepEqual(await checkDeployment(options), { ok: true, findings: [] })
    await primaryServer.restartWith({ maxPreparedTransactions: 150 })
    const check = await checkDeployment(options)
    assert.equal(check.ok, false)
    assert.deepEqual(codes(check.findings), ['replica:standby-settings-lower:error'])
    assert.match(check.findings[0]?.message ?? '', /max_prepared_transactions 100 < 150/)
    const cli = await runCli([
      'check',
      '--db',
      `main=${url}`,
      '--standby',
      `main:replica=${standbyServer.url(database)}`,
    ])
    assert.equal(cli.code, 1, cli.stdout + cli.stderr)
    assert.match(cli.stdout, /^ERROR +replica +standby-settings-lower: /m)
    for (const spec of ['replica=postgres://x/y', `other:replica=${url}`]) {
      const wrong = await runCli(['check', '--db', `main=${url}`, '--standby', spec])
      assert.equal(wrong.code, 2, wrong.stdout + wrong.stderr)
      assert.match(wrong.stderr + wrong.stdout, /--standby/)
    }
    await assert.rejects(
      checkDeployment({ databases: [main.db], standbys: { other: [replica.db] } }),
      (error: unknown) =>
        isConfigurationError(error) && /standbys names "other"/.test(error.message),
    )
  })

  test('in-doubt transactions of ours prepared by another role, checked as a role that cannot finish them: a warning', async () => {
    const url = await servers.postgres.createDatabase()
    const admin = fixture.pg(url, 'admin')
    const suffix = Math.random().toString(36).slice(2, 8)
    const [writer, worker] = [`txkit_writer_${suffix}`, `txkit_worker_${suffix}`]
    await admin.pool.query(`CREATE ROLE ${writer} LOGIN; CREATE ROLE ${worker} LOGIN`)
    const as = (role: string) => {
      const parsed = new URL(url)
      parsed.username = role
      return parsed.toString()
    }
    const gid = `txkit.${Date.now().toString(36).padStart(9, '0')}00aa11bb22cc33dd.a.2.1`
    const writing = fixture.pg(as(writer), 'db')
    const session = await writing.pool.connect()
    await session.query('BEGIN')
    await session.query(`PREPARE TRANSACTION '${gid}'`)
    session.release()
    try {
      const asWorker = fixture.pg(as(worker), 'db')
      const check = await checkDeployment({ databases: [asWorker.db] })
      assert.equal(check.ok, true)
      assert.deepEqual(codes(check.findings), ['db:prepared-by-other-roles:warning'])
      assert.match(
        check.findings[0]?.message ?? '',
        new RegExp(`prepared here by "${writer}", and "${worker}" is not a superuser`),
      )
      // Another deployment's prefix: not ours. The writer itself, or a superuser: can finish them.
      assert.deepEqual(
        (await checkDeployment({ databases: [asWorker.db], prefix: 'billing' })).findings,
        [],
      )
      assert.deepEqual((await checkDeployment({ databases: [writing.db] })).findings, [])
      assert.deepEqual((await checkDeployment({ databases: [admin.db] })).findings, [])
    } finally {
      await admin.pool.query(`ROLLBACK PREPARED '${gid}'`)
    }
  })

  test('a database that refuses connections, or accepts and never answers: unreachable, within the timeout', async () => {
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => {
      sockets.add(socket)
      socket.on('error', () => {})
    })
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const port = (silent.address() as { port: number }).port
    try {
      const quiet = fixture.pg(`postgres://app:hunter2@127.0.0.1:${port}/x`, 'quiet')
      const refused = fixture.pg('postgres://app:hunter2@127.0.0.1:1/x', 'refused')
      const ok = fixture.pg(await servers.postgres.createDatabase(), 'ok')
      const started = Date.now()
      const check = await checkDeployment({
        databases: [quiet.db, refused.db, ok.db],
        timeout: 1000,
      })
      assert.ok(Date.now() - started < 8000, `took ${Date.now() - started} ms`)
      assert.equal(check.ok, false)
      assert.deepEqual(codes(check.findings), [
        'quiet:unreachable:error',
        'refused:unreachable:error',
      ])
      assert.match(
        check.findings.find((f) => f.database === 'quiet')?.message ?? '',
        /did not answer within 1000 ms/,
      )
      for (const finding of check.findings) assert.doesNotMatch(JSON.stringify(finding), /hunter2/)
    } finally {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })

  test("coordinator.check(): the coordinator's own decision log and fence table, findings logged", async () => {
    const a = fixture.pg(await servers.postgres.createDatabase(), 'a')
    const b = fixture.pg(await servers.postgres.createDatabase(), 'b')
    const logged: string[] = []
    const logger = {
      warn: (_: object, message: string) => logged.push(`warn ${message}`),
      error: (fields: object, message: string) =>
        logged.push(`error ${(fields as { code: string }).code} ${message}`),
    }
    const coordinator = fixture.coordinator({
      decisionLog: { database: a.db, table: 'decisions' },
      protocol: 'parallel',
      fenceTable: 'fences',
      logger,
    })
    const before = await coordinator.check({ a: a.db, b: b.db })
    assert.equal(before.ok, false)
    assert.deepEqual(codes(before.findings), [
      'a:decision-table-missing:error',
      'a:fence-table-missing:error',
      'b:fence-table-missing:error',
    ])
    assert.equal(logged.filter((line) => line.startsWith('error ')).length, 3)
    assert.match(
      logged.join('\n'),
      /error decision-table-missing txkit: The decision table decisions does not exist/,
    )
    await coordinator.createDecisionLog()
    for (const db of [a.db, b.db]) await coordinator.createFenceTable(db)
    assert.deepEqual(await coordinator.check([a.db, b.db], { concurrency: 10 }), {
      ok: true,
      findings: [],
    })
    await assert.rejects(
      coordinator.check([a.db], { fenceTable: 'x' } as never),
      (error: unknown) =>
        isConfigurationError(error) && /coordinator\.check\(\)/.test(error.message),
    )
  })

  test('bad options are refused with the fix', async () => {
    const db = fixture.pg(await servers.postgres.createDatabase(), 'a')
    await assert.rejects(
      checkDeployment({ databases: [db.db], concurency: 5 } as never),
      (error: unknown) =>
        isConfigurationError(error) && /did you mean "concurrency"/.test(error.message),
    )
    await assert.rejects(
      checkDeployment({ databases: [db.db], concurrency: 0 }),
      (error: unknown) =>
        isConfigurationError(error) && /positive whole number/.test(error.message),
    )
    await assert.rejects(
      checkDeployment({ databases: [] }),
      (error: unknown) => isConfigurationError(error) && /none was given/.test(error.message),
    )
    await assert.rejects(
      checkDeployment({ databases: [db.db], fenceTable: 'a;b' }),
      (error: unknown) => isConfigurationError(error) && /fence table/.test(error.message),
    )
  })
})

describe('txkit check', () => {
  test('--json, exit 0 with nothing found; usage errors for options that do not fit', async () => {
    const url = await servers.postgres.createDatabase()
    const db = fixture.pg(url, 'a')
    const coordinator = fixture.coordinator({ decisionLog: db.db })
    await coordinator.createDecisionLog()
    await coordinator.close()
    const ok = await runCli(['check', '--db', `a=${url}`, '--decision-log', 'a', '--json'])
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.deepEqual(JSON.parse(ok.stdout), { ok: true, findings: [] })
    const text = await runCli(['check', '--db', `a=${url}`, '--decision-log', 'a'])
    assert.match(text.stdout, /No findings: "a" ready\./)
    const fences = await runCli(['check', '--db', `a=${url}`, '--fences', '--json'])
    assert.equal(fences.code, 1)
    assert.deepEqual(codes(JSON.parse(fences.stdout).findings), ['a:fence-table-missing:error'])
    const refused = await runCli(['check', '--db', 'gone=postgres://app:hunter2@127.0.0.1:1/x'])
    assert.equal(refused.code, 1, refused.stdout + refused.stderr)
    assert.match(refused.stdout, /^ERROR +gone +unreachable: Could not inspect the database/m)
    assert.doesNotMatch(refused.stdout + refused.stderr, /hunter2/)
    for (const [args, message] of [
      [['--fence-table', 'f'], /--fence-table names the table --fences checks/],
      [['--table', 't'], /add --decision-log NAME/],
      [['--concurrency', 'many'], /positive whole number/],
      [['--dry-run'], /does not take --dry-run/],
      [['--max-clock-skew', 'soon'], /--max-clock-skew/],
    ] as const) {
      const result = await runCli(['check', '--db', `a=${url}`, ...args])
      assert.equal(result.code, 2, result.stdout + result.stderr)
      assert.match(result.stderr + result.stdout, message)
    }
  })
})

describe('MySQL 8: XA RECOVER without XA_RECOVER_ADMIN', () => {
  // No MySQL 8 server here: MariaDB lets any account run XA RECOVER (so the real servers above
  // show no such finding), and MySQL 8's answer is recorded from its documentation.
  test('access denied to XA RECOVER (1227) is a missing-privilege error; an answer is none', async () => {
    const answering = (recover: () => unknown) =>
      ({
        query: async (sql: string) => {
          if (sql === 'XA RECOVER') return recover()
          return { rows: [{ Variable_name: 'wsrep_on', Value: 'OFF' }] }
        },
      }) as unknown as DriverConnection
    const denied = answering(() => {
      throw Object.assign(
        new Error(
          'Access denied; you need (at least one of) the XA_RECOVER_ADMIN privilege(s) for this operation',
        ),
        { errno: 1227, sqlState: '42000' },
      )
    })
    const expected = {
      concurrency: undefined,
      holdsDecisions: false,
      keepsEveryDecision: false,
      prefix: 'txkit',
    }
    const unused = { acquire: () => Promise.reject(new Error('not used')) }
    const found = await mysqlPreflight.inspect(denied, expected, unused)
    assert.deepEqual(
      found.map((finding) => `${finding.code}:${finding.severity}`),
      ['missing-privilege:error'],
    )
    assert.match(found[0]?.fix ?? '', /GRANT XA_RECOVER_ADMIN ON \*\.\*/)
    assert.deepEqual(
      await mysqlPreflight.inspect(
        answering(() => ({ rows: [] })),
        expected,
        unused,
      ),
      [],
    )
  })
})
