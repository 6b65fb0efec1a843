import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { runCli, runningCli } from '../../harness/run-cli.js'
import { leaveInDoubt } from '../../harness/run-crash-coordinator.js'
import { stopTestServers, type TestServer, testPostgres } from '../../harness/test-databases.js'
import { createLock } from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

// Trust authentication accepts any password: the sentinel travels everywhere a real one would.
const SENTINEL = 'S3ntinel-pa55word'
let server: TestServer
let urls: { a: string; b: string }
const pools: pg.Pool[] = []

function withPassword(url: string): string {
  const parsed = new URL(url)
  parsed.password = SENTINEL
  return parsed.toString()
}

before(async () => {
  server = await testPostgres()
  urls = {
    a: withPassword(await server.createDatabase()),
    b: withPassword(await server.createDatabase()),
  }
  for (const url of Object.values(urls)) {
    const pool = new pg.Pool({ connectionString: url })
    pool.on('error', () => {})
    pools.push(pool)
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
  }
})
after(async () => {
  await Promise.all(pools.map((pool) => pool.end()))
  await stopTestServers()
})

function assertNoSecret(...texts: string[]): void {
  for (const text of texts)
    assert.ok(!text.includes(SENTINEL), `password printed: ${text.slice(0, 400)}`)
}

/** Leaves one transaction in doubt: a coordinator killed right after its decision. */
async function inDoubt(marker: string): Promise<void> {
  await leaveInDoubt({
    decision: { name: 'a', url: urls.a },
    other: { name: 'b', url: urls.b },
    prefix: 'cli',
    marker,
  })
}

async function hasMark(url: string, marker: string): Promise<boolean> {
  const pool = pools[url === urls.a ? 0 : 1] as pg.Pool
  return (await pool.query('SELECT 1 FROM marks WHERE tx = $1', [marker])).rowCount === 1
}

describe('txkit command line', () => {
  test('--help documents every command; usage errors exit 2', async () => {
    const main = await runCli(['--help'])
    assert.equal(main.code, 0)
    for (const command of ['init', 'status', 'recover', 'watch']) {
      assert.match(main.stdout, new RegExp(`^  ${command} `, 'm'))
      const help = await runCli([command, '--help'])
      assert.equal(help.code, 0)
      assert.match(help.stdout, new RegExp(`^Usage: txkit ${command}`))
      assert.match(help.stdout, /--db NAME=URL/)
    }
    for (const args of [
      [],
      ['frobnicate'],
      ['recover', '--bogus'],
      ['recover'],
      ['recover', '--db', `a=${urls.a}`, '--min-age', 'soon'],
      ['recover', '--db', `a=${urls.a}`, '--protocol', 'fast'],
      ['recover', '--db', `a=${urls.a}`, '--decision-log', 'zz'],
      ['recover', '--db', `a=ftp://u:${SENTINEL}@h/x`],
      ['recover', '--db', 'bad name=postgres://x'],
      ['init', '--db', `a=${urls.a}`],
      ['init', '--db', `a=${urls.a}`, '--decision-log', 'a', '--fence-table', 'f'],
    ]) {
      const result = await runCli(args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      if (args.length > 0) assert.match(result.stderr, /txkit: .+\nRun txkit --help for usage\./)
      assertNoSecret(result.stdout, result.stderr)
    }
  })

  test('init --fences creates the fence table in every --db; --print-sql shows its statements', async () => {
    const db = ['--db', `a=${urls.a}`, '--db', `b=${urls.b}`]
    const sql = await runCli(['init', ...db, '--decision-log', 'a', '--fences', '--print-sql'])
    assert.equal(sql.code, 0, sql.stderr)
    assert.match(sql.stdout, /-- b\nCREATE TABLE IF NOT EXISTS "txkit_fence"/)
    const init = await runCli([
      'init',
      ...db,
      '--decision-log',
      'a',
      '--fences',
      '--fence-table',
      'cli_fence',
    ])
    assert.equal(init.code, 0, init.stderr)
    assert.match(init.stdout, /Fence table cli_fence is ready in "a", "b"\./)
    for (const url of [urls.a, urls.b]) {
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      const { rows } = await client.query("SELECT to_regclass('cli_fence') IS NOT NULL AS found")
      await client.end()
      assert.equal(rows[0]?.found, true)
    }
  })

  test('init, status, recover: an in-doubt transaction is shown, then committed', async () => {
    const db = ['--db', `a=${urls.a}`, '--db', `b=${urls.b}`]
    const init = await runCli(['init', ...db, '--decision-log', 'a'])
    assert.equal(init.code, 0, init.stderr)
    assert.match(init.stdout, /Decision table txkit_decision is ready in "a"/)

    await inDoubt('cli-1')
    assert.equal(await hasMark(urls.b, 'cli-1'), false, 'b is still prepared')

    const options = [...db, '--decision-log', 'a', '--prefix', 'cli', '--min-age', '0']
    const status = await runCli(['status', ...options])
    assert.equal(status.code, 3, 'work for recovery: exit 3')
    assert.match(status.stdout, /GTRID\s+PROTOCOL\s+DATABASES\s+AGE\s+DECISION\s+RECOVER WOULD/)
    assert.match(status.stdout, /^cli\.[0-9a-z]{25}\.a\s+decision\s+b\s+\S+\s+commit\s+commit$/m)

    const json = await runCli(['status', ...options, '--json'])
    const report = JSON.parse(json.stdout) as {
      dryRun: boolean
      transactions: Array<{ action: string }>
    }
    assert.equal(report.dryRun, true)
    assert.deepEqual(
      report.transactions.map((t) => t.action),
      ['would-commit'],
    )
    assert.equal(await hasMark(urls.b, 'cli-1'), false, 'status changed nothing')

    const recovered = await runCli(['recover', ...options])
    assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr)
    assert.match(recovered.stdout, /^committed\s+cli\.\S+\s+\[b\]\s+decision row 'C': commit$/m)
    assert.match(recovered.stdout, /1 committed, 0 rolled back, 0 left, 0 failed/)
    assert.equal(await hasMark(urls.a, 'cli-1'), true)
    assert.equal(await hasMark(urls.b, 'cli-1'), true)

    const clean = await runCli(['status', ...options])
    assert.equal(clean.code, 0)
    assert.match(clean.stdout, /No prepared transaction of ours is in doubt/)
    assertNoSecret(
      init.stdout,
      init.stderr,
      status.stdout,
      status.stderr,
      json.stdout,
      recovered.stdout,
      recovered.stderr,
    )
  })

  test('URLs from environment variables; an unreachable database is reported without its password', async () => {
    const unreachable = `postgres://app:${SENTINEL}@127.0.0.1:1/nowhere`
    const result = await runCli(
      [
        'recover',
        '--db',
        'a=env:URL_OF_A',
        '--db',
        'b',
        '--db',
        'gone=env:GONE',
        '--decision-log',
        'a',
        '--prefix',
        'cli',
        '--min-age',
        '0',
      ],
      { URL_OF_A: urls.a, TXKIT_DB_B: urls.b, GONE: unreachable },
    )
    assert.equal(result.code, 1, 'a database could not be scanned')
    assert.match(
      result.stdout,
      /database "gone" \(postgres:\/\/app@127\.0\.0\.1:1\/nowhere\) could not be scanned: connect ECONNREFUSED/,
    )
    assertNoSecret(result.stdout, result.stderr)
    const missing = await runCli(['recover', '--db', 'nothere'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /no URL \(looked in TXKIT_DB_NOTHERE\)/)
  })

  const watchArgs = (interval: string) => [
    'watch',
    '--db',
    `a=${urls.a}`,
    '--db',
    `b=${urls.b}`,
    '--decision-log',
    'a',
    '--prefix',
    'cli',
    '--min-age',
    '0',
    '--interval',
    interval,
  ]

  test('watch recovers every interval, serves metrics, and stops on SIGTERM', async () => {
    const watch = runningCli([...watchArgs('200ms'), '--metrics-port', '0'])
    const port = Number((await watch.until(/ port=(\d+)/))?.[1])
    assert.ok(port > 0, watch.stderr())
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/healthz`)).text(), 'ok\n')

    await inDoubt('cli-2')
    for (let i = 0; i < 50 && !(await hasMark(urls.b, 'cli-2')); i++)
      await new Promise((r) => setTimeout(r, 100))
    assert.equal(await hasMark(urls.b, 'cli-2'), true, 'the worker committed it')
    assert.ok(await watch.until(/ committed=1 /), watch.stderr())
    // Text log lines: an ISO timestamp, a level, the message.
    assert.match(
      watch.stderr(),
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info txkit watch: round done /m,
    )
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    assert.match(metrics, /^txkit_recovery_decisions_total\{action="committed"\} 1$/m)
    assert.match(metrics, /^txkit_prepared_transactions\{database="a"\} \d+$/m)
    assert.match(metrics, /^txkit_recovery_rounds_total [1-9]\d*$/m)
    assert.match(metrics, /^# TYPE txkit_recovery_failures_total counter$/m)

    assert.equal(await watch.stop(), 0)
    assert.match(watch.stderr(), /txkit watch: stopped/)
    assertNoSecret(watch.stderr(), metrics)
  })

  test('a watch round is skipped while another worker holds the recovery lock', async () => {
    // Another worker: the same lock, taken through txkit.
    const holder = await createLock(
      pgDatabase(pools[0] as pg.Pool, { name: 'a' }),
      'txkit-recover:cli',
    ).acquire()
    const watch = runningCli(watchArgs('100ms'))
    assert.ok(await watch.until(/another worker holds the recovery lock/), watch.stderr())
    assert.doesNotMatch(watch.stderr(), /round done/)
    await holder.release()
    assert.ok(await watch.until(/round done/), watch.stderr())
    await watch.stop()
    assertNoSecret(watch.stderr())
  })
})
