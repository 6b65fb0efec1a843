import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { prepareBacklog } from '../../harness/prepared-backlog.js'
import { runCli, runningCli } from '../../harness/run-cli.js'
import { leaveInDoubt } from '../../harness/run-crash-coordinator.js'
import { startPostgres } from '../../harness/test-databases.js'
import { withConnection } from '../../src/database/with-connection.js'

const servers = serversForFile()
const { fixture } = servers

/** A TCP server that accepts connections and never says a word. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    close: () => closeServer(server, sockets),
  }
}

/**
 * A proxy to `targetPort` that forwards until the client sends a chunk containing `trigger`,
 * then forwards nothing more either way and closes nothing: a server that stopped answering.
 */
async function stallingProxy(targetPort: number, trigger: string) {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    let stalled = false
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
    }
    client.on('data', (chunk) => {
      if (stalled) return
      if (chunk.includes(trigger)) {
        stalled = true
        return
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => !stalled && client.write(chunk))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    close: () => closeServer(server, sockets),
  }
}

function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const socket of sockets) socket.destroy()
  return new Promise((resolve) => server.close(() => resolve()))
}

async function twoDatabases() {
  const [a, b] = await Promise.all(
    ['a', 'b'].map((name) => fixture.markedPg(servers.postgres, name)),
  )
  if (a === undefined || b === undefined) throw new Error('no databases')
  await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
  return { a, b, db: ['--db', `a=${a.url}`, '--db', `b=${b.url}`] }
}

async function metricsOf(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
}

describe('the command line a scheduler can act on', () => {
  test('usage errors exit 2: stray arguments, options of another command, bad prefix or table', async () => {
    const { db } = await twoDatabases()
    const cases: Array<[string[], RegExp]> = [
      [['status', ...db, 'extra'], /takes no arguments besides its options/],
      [['init', ...db, '--decision-log', 'a', '--dry-run'], /txkit init does not take --dry-run/],
      [['status', ...db, '--interval', '1s'], /txkit status does not take --interval/],
      [['recover', ...db, '--metrics-port', '9'], /does not take --metrics-port/],
      [['recover', ...db, '--decision-log', 'a', '--prefix', 'BAD!'], /Invalid deployment prefix/],
      [
        ['recover', ...db, '--decision-log', 'a', '--table', 'x;y'],
        /Invalid decision log table name/,
      ],
      [['status', ...db, '--connect-timeout', 'soon'], /--connect-timeout/],
    ]
    for (const [args, message] of cases) {
      const result = await runCli(args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message)
    }
  })

  test('a --db value that is not a URL is never echoed back (it may be a password)', async () => {
    const result = await runCli(['status', '--db', 'a=hunter2-S3cret'])
    assert.equal(result.code, 2)
    assert.match(result.stderr, /--db a: the value \(from the command line\) is not a URL/)
    assert.doesNotMatch(result.stderr + result.stdout, /hunter2/)
  })

  test('--version prints the package version', async () => {
    const manifest = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as { version: string }
    const result = await runCli(['--version'])
    assert.equal(result.code, 0)
    assert.equal(result.stdout.trim(), manifest.version)
  })

  test('exit 3 when work is left for a later round (too young), 0 once done', async () => {
    const { a, b, db } = await twoDatabases()
    await leaveInDoubt({
      decision: { name: 'a', url: a.url },
      other: { name: 'b', url: b.url },
      prefix: 'ops',
      marker: 'young',
    })
    const selection = (prefix: string, minAge: string) => [
      ...db,
      '--decision-log',
      'a',
      '--prefix',
      prefix,
      '--min-age',
      minAge,
    ]
    const later = await runCli(['recover', ...selection('ops', '1h')])
    assert.equal(later.code, 3, later.stdout + later.stderr)
    const status = await runCli(['status', ...selection('ops', '1h')])
    assert.equal(status.code, 3)
    // A young transaction's decision is shown all the same: its 'C' row says it will commit.
    assert.match(status.stdout, /^ops\.\S+\s+decision\s+b\s+\S+\s+commit\s+leave \(too-young\)$/m)
    // Another deployment's transaction on the same databases is pointed out, never touched.
    await leaveInDoubt({
      decision: { name: 'a', url: a.url },
      other: { name: 'b', url: b.url },
      prefix: 'billing',
      marker: 'theirs',
    })
    const mixed = await runCli(['status', ...selection('ops', '1h')])
    assert.match(
      mixed.stdout,
      /database "b" also holds prepared transactions with another prefix \(billing\): never touched here; see them with --prefix billing/,
    )
    const done = await runCli(['recover', ...selection('ops', '0s')])
    assert.equal(done.code, 0, done.stdout + done.stderr)
    const theirs = await runCli(['recover', ...selection('billing', '0s')])
    assert.equal(theirs.code, 0, theirs.stdout + theirs.stderr)
  })
})

describe('several recovery processes at once', () => {
  test('split a round: each exits 0 or 3 (never 1 for a share the other did), and no transaction is counted twice', async () => {
    const server = await startPostgres({ maxPreparedTransactions: 400 })
    const [a, b] = await Promise.all(['a', 'b'].map((name) => fixture.markedPg(server, name)))
    if (a === undefined || b === undefined) throw new Error('no databases')
    await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
    const count = 300
    const gtrids = Array.from(
      { length: count },
      (_, index) =>
        `split.${(Date.now() - 60_000).toString(36).padStart(9, '0')}${index.toString(16).padStart(16, '0')}`,
    )
    await prepareBacklog(b.pool, gtrids)
    await a.pool.query(
      `INSERT INTO txkit_decision (gtrid, outcome, participants) SELECT g, 'C', '["a","b"]' FROM unnest($1::varchar[]) g`,
      [gtrids],
    )
    const args = [
      'recover',
      '--db',
      `a=${a.url}`,
      '--db',
      `b=${b.url}`,
      '--decision-log',
      'a',
      '--prefix',
      'split',
      '--min-age',
      '0s',
      '--json',
    ]
    const runs = await Promise.all([runCli(args), runCli(args)])
    const reports = runs.map(
      (run) =>
        JSON.parse(run.stdout) as {
          counts: { committed: number }
          transactions: Array<{ left?: string }>
        },
    )
    for (const [index, run] of runs.entries()) {
      const leftToOther = reports[index]?.transactions.filter((tx) => tx.left === 'other-worker')
      // 3 when it left a share to the other (or met one being finished), else 0; never 1.
      assert.ok(run.code === 3 || (run.code === 0 && leftToOther?.length === 0), run.stderr)
    }
    assert.equal((reports[0]?.counts.committed ?? 0) + (reports[1]?.counts.committed ?? 0), count)
    assert.equal(Number((await b.pool.query('SELECT count(*) AS n FROM marks')).rows[0]?.n), count)
    assert.equal((await b.pool.query('SELECT 1 FROM pg_prepared_xacts')).rowCount, 0)
  })
})

describe('no command hangs on a server that does not answer', () => {
  test('a server that accepts and never answers: status fails within the connect timeout, naming the database and host', async () => {
    const silent = await silentServer()
    try {
      const started = Date.now()
      const result = await runCli([
        'status',
        '--db',
        `a=postgres://app:pw@127.0.0.1:${silent.port}/x`,
        '--connect-timeout',
        '1s',
      ])
      const took = Date.now() - started
      assert.equal(result.code, 1, result.stdout + result.stderr)
      assert.ok(took < 15_000, `took ${took} ms`)
      assert.match(
        result.stdout,
        new RegExp(
          `database "a" \\(postgres://app@127\\.0\\.0\\.1:${silent.port}/x\\) could not be scanned`,
        ),
      )
    } finally {
      await silent.close()
    }
  })

  test('a server that stops answering after connecting: the statement timeout fails the call', async () => {
    const { a } = await twoDatabases()
    const target = new URL(a.url)
    const proxy = await stallingProxy(Number(target.port), 'pg_prepared_xacts')
    try {
      target.port = String(proxy.port)
      const started = Date.now()
      const result = await runCli([
        'status',
        '--db',
        `a=${target.toString()}`,
        '--statement-timeout',
        '1s',
      ])
      const took = Date.now() - started
      assert.equal(result.code, 1, result.stdout + result.stderr)
      assert.ok(took < 15_000, `took ${took} ms`)
      assert.match(result.stdout, /database "a" \(postgres:\/\/.*\) could not be scanned/)
    } finally {
      await proxy.close()
    }
  })
})

describe('txkit watch, as an operator sees it', () => {
  test('an unreachable lock database is a failed round: logged at error with the database, counted, /healthz 503, no listener leak', async () => {
    const { b } = await twoDatabases()
    const watch = runningCli([
      'watch',
      '--db',
      'a=postgres://app:pw@127.0.0.1:1/gone',
      '--db',
      `b=${b.url}`,
      '--decision-log',
      'a',
      '--interval',
      '50ms',
      '--metrics-port',
      '0',
      '--connect-timeout',
      '1s',
    ])
    try {
      const port = Number((await watch.until(/ port=(\d+)/))?.[1])
      assert.ok(
        await watch.until(
          / error txkit watch: round failed: the recovery lock could not be asked for database=a /,
        ),
        watch.stderr(),
      )
      assert.doesNotMatch(watch.stderr(), /another worker holds the recovery lock/)
      // More than 11 rounds (a leaked listener per round warns at the 11th), and then past three
      // intervals without a good round: polled, with generous bounds for a busy machine.
      const value = (metrics: string, name: string) =>
        Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1])
      let metrics = ''
      for (let i = 0; i < 200; i++) {
        metrics = await metricsOf(port)
        if (value(metrics, 'txkit_recovery_rounds_total') >= 12) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.ok(value(metrics, 'txkit_recovery_failures_total') >= 12, metrics)
      assert.ok(value(metrics, 'txkit_recovery_rounds_total') >= 12, metrics)
      assert.equal(value(metrics, 'txkit_recovery_last_round_success'), 0)
      assert.equal(value(metrics, 'txkit_recovery_last_success_timestamp_seconds'), 0)
      let status = 200
      for (let i = 0; i < 100 && status === 200; i++) {
        status = (await fetch(`http://127.0.0.1:${port}/healthz`)).status
        if (status === 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.equal(status, 503, 'no good round for more than three intervals')
      assert.doesNotMatch(watch.stderr(), /MaxListenersExceededWarning/)
    } finally {
      await watch.stop()
    }
    assert.doesNotMatch(watch.stderr(), /pw@/)
  })

  test('a transaction left too young round after round is counted once; known labels start at 0; --json logs', async () => {
    const { a, b, db } = await twoDatabases()
    await leaveInDoubt({
      decision: { name: 'a', url: a.url },
      other: { name: 'b', url: b.url },
      prefix: 'young',
      marker: 'y',
    })
    const watch = runningCli([
      'watch',
      ...db,
      '--decision-log',
      'a',
      '--prefix',
      'young',
      '--min-age',
      '1h',
      '--interval',
      '50ms',
      '--metrics-port',
      '0',
      '--json',
    ])
    try {
      const port = Number((await watch.until(/"port":(\d+)/))?.[1])
      let metrics = ''
      for (let i = 0; i < 200; i++) {
        metrics = await metricsOf(port)
        if (Number(/^txkit_recovery_rounds_total (\d+)$/m.exec(metrics)?.[1]) >= 3) break
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      assert.match(metrics, /^txkit_recovery_decisions_total\{action="left:too-young"\} 1$/m)
      assert.match(metrics, /^txkit_recovery_decisions_total\{action="left:decision-open"\} 0$/m)
      assert.match(metrics, /^txkit_recovery_decisions_total\{action="committed"\} 0$/m)
      assert.match(metrics, /^txkit_recovery_last_round_success 1$/m)
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200)
      const rounds = Number(/^txkit_recovery_rounds_total (\d+)$/m.exec(metrics)?.[1])
      assert.ok(rounds >= 3, metrics)
    } finally {
      await watch.stop()
    }
    for (const line of watch.stderr().trim().split('\n')) {
      const record = JSON.parse(line) as { time?: string; level?: string; message?: string }
      assert.match(record.time ?? '', /^\d{4}-\d\d-\d\dT/)
      assert.ok(['info', 'warn', 'error'].includes(record.level ?? ''), line)
    }
    await runCli(['recover', ...db, '--decision-log', 'a', '--prefix', 'young', '--min-age', '0s'])
  })
})

describe('txkit init --print-sql, for migration tools', () => {
  test('PostgreSQL: the printed script creates a stamped table, and runs twice without harm', async () => {
    const [a] = await Promise.all(['a'].map((name) => fixture.markedPg(servers.postgres, name)))
    if (a === undefined) throw new Error('no database')
    const printed = await runCli([
      'init',
      '--db',
      `a=${a.url}`,
      '--decision-log',
      'a',
      '--table',
      'ops.decisions',
      '--print-sql',
    ])
    assert.equal(printed.code, 0, printed.stderr)
    assert.match(printed.stdout, /CREATE TABLE IF NOT EXISTS "ops"\."decisions"/)
    assert.equal(
      (await a.pool.query(`SELECT to_regclass('ops.decisions') AS t`)).rows[0].t,
      null,
      'printed, not run',
    )
    await a.pool.query(printed.stdout)
    const stamp = async () =>
      (await a.pool.query(`SELECT obj_description('ops.decisions'::regclass, 'pg_class') AS c`))
        .rows[0].c as string
    const first = await stamp()
    assert.match(first, /^txkit decision log; created_ms=\d{13}$/)
    await a.pool.query(printed.stdout)
    assert.equal(await stamp(), first, 'the stamp is kept')
  })

  test('MariaDB: the printed statement creates the table, whose age the server records', async (t) => {
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB')
    const url = await mariadb.createDatabase()
    const m = await fixture.mysql(url, 'm')
    const printed = await runCli(['init', '--db', `m=${url}`, '--decision-log', 'm', '--print-sql'])
    assert.equal(printed.code, 0, printed.stderr)
    assert.match(printed.stdout, /CREATE TABLE IF NOT EXISTS `txkit_decision`/)
    await m.pool.query(printed.stdout.trim().replace(/;$/, ''))
    const state = await withConnection(m.db, (connection) =>
      m.db.dialect.describeDecisionLog(connection, { name: 'txkit_decision' }),
    )
    assert.ok(
      state?.createdAt !== undefined && Math.abs(state.createdAt - Date.now()) < 120_000,
      JSON.stringify(state),
    )
  })
})
