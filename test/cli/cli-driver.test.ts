/**
 * `--driver`: recovery opens the URLs with the driver the writers use, and says so when it cannot.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { runCli, runningCli } from '../../harness/run-cli.js'

const servers = serversForFile()
const { fixture } = servers

const CHOICES =
  'node-postgres, postgres-js \\(postgres://, postgresql://\\); mysql2, mariadb \\(mysql://, mariadb://\\)'

/** The application names of the sessions on the database at `url`, besides the one asking. */
async function applicationNames(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    const { rows } = await client.query<{ name: string }>(
      `SELECT application_name AS name FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    )
    return rows.map((row) => row.name)
  } finally {
    await client.end()
  }
}

describe('txkit --driver', () => {
  test('the chosen PostgreSQL driver opens the URLs: postgres.js names its sessions, node-postgres does not', async () => {
    for (const [driver, expected] of [
      ['postgres-js', 'postgres.js'],
      ['node-postgres', ''],
    ] as const) {
      // Only the watch has sessions there: the table is made by txkit init, which has exited.
      const url = await servers.postgres.createDatabase()
      const init = await runCli(['init', '--db', `a=${url}`, '--decision-log', 'a'])
      assert.equal(init.code, 0, init.stderr)
      const watch = runningCli([
        'watch',
        '--driver',
        driver,
        '--db',
        `a=${url}`,
        '--decision-log',
        'a',
        '--interval',
        '50ms',
      ])
      try {
        assert.ok(await watch.until(/round done/), watch.stderr())
        const names = await applicationNames(url)
        assert.ok(names.length > 0, `${driver}: no session of the watch`)
        assert.deepEqual([...new Set(names)], [expected], `${driver}: ${names.join()}`)
      } finally {
        assert.equal(await watch.stop(), 0)
      }
    }
  })

  test('the chosen MySQL driver opens the URLs: each reports a failure in its own words', async (t) => {
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB server on this machine')
    const url = new URL(await mariadb.createDatabase())
    url.pathname = '/no_such_database'
    const seen: Record<string, string> = {}
    for (const driver of ['mysql2', 'mariadb']) {
      const result = await runCli([
        'status',
        '--driver',
        driver,
        '--db',
        `m=${url}`,
        '--connect-timeout',
        '2s',
      ])
      assert.equal(result.code, 1, result.stdout + result.stderr)
      seen[driver] = result.stdout + result.stderr
    }
    // The mariadb connector prefixes its errors with the connection and the error's numbers.
    assert.match(seen.mariadb ?? '', /\(conn:-?\d+, no: \d+, SQLState: \w+\)/)
    assert.doesNotMatch(seen.mysql2 ?? '', /\(conn:/)
    assert.match(seen.mysql2 ?? '', /could not be scanned: Unknown database 'no_such_database'/)
  })

  test('an unknown driver, or two for one scheme: exit 2 naming the choices; every command takes it', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    const unknown = await runCli(['status', '--driver', 'pgx', '--db', `a=${a.url}`])
    assert.equal(unknown.code, 2, unknown.stderr)
    assert.match(unknown.stderr, new RegExp(`--driver takes one of ${CHOICES}; "pgx" is none`))
    const two = await runCli([
      'recover',
      '--driver',
      'node-postgres',
      '--driver',
      'postgres-js',
      '--db',
      `a=${a.url}`,
    ])
    assert.equal(two.code, 2, two.stderr)
    assert.match(two.stderr, /--driver names two drivers for postgres:\/\/, postgresql:\/\/ URLs/)
    const unused = await runCli(['status', '--driver', 'mariadb', '--db', `a=${a.url}`])
    assert.equal(unused.code, 2, unused.stderr)
    assert.match(
      unused.stderr,
      /--driver mariadb opens mysql:\/\/, mariadb:\/\/ URLs, and no --db is one\./,
    )
    for (const command of ['init', 'status', 'recover', 'watch', 'check', 'relay', 'outbox']) {
      const help = await runCli([command, '--help'])
      assert.equal(help.code, 0)
      assert.match(help.stdout, /--driver NAME {10}the driver that opens the URLs/, command)
    }
    const check = await runCli(['check', '--driver', 'postgres-js', '--db', `a=${a.url}`])
    assert.equal(check.code, 0, check.stdout + check.stderr)
  })
})
