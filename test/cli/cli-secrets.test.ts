/**
 * What the command line never prints: a password, in any --db value however wrong, and what it
 * prints intact: every other character of its output, whatever the password is.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { runCli } from '../../harness/run-cli.js'
import { CLI_URL_DRIVERS } from '../../src/cli/url-drivers.js'
import { openUrlDatabase } from '../../src/database/url-driver.js'
import { isConfigurationError } from '../../src/index.js'
import { redactUrlsIn } from '../../src/util/redact-url.js'

const servers = serversForFile({ mariadb: false })

function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url)
  parsed.username = user
  parsed.password = password
  return parsed.toString()
}

describe('a --db value that is not a usable URL is never echoed', () => {
  test('a scheme left off, a bad name, a URL without NAME=: exit 2, saying what is wrong, never the password', async () => {
    const cases: Array<[string, RegExp]> = [
      // Without its scheme, user:password@host reads as the scheme "txkit:".
      [
        'orders=txkit:S3cretPw@db1/orders',
        /--db orders: the value \(from the command line\) is not a URL: give one that starts with its scheme and \/\//,
      ],
      ['my orders=S3cretPw', /--db: Invalid database name "my orders": give each database/],
      [
        'postgres://app:S3cretPw@db1/orders',
        /--db takes NAME=URL, NAME=env:VARIABLE or NAME: this value \(not shown: it may hold a password\) does not start with a name/,
      ],
      // An "=" in the URL's query does not make what comes before it a name.
      [
        'postgres://app:S3cretPw@db1/orders?sslmode=disable',
        /this value \(not shown: it may hold a password\)/,
      ],
    ]
    for (const [spec, message] of cases) {
      const result = await runCli(['status', '--db', spec])
      assert.equal(result.code, 2, `${spec}: ${result.stderr}`)
      assert.match(result.stderr, message)
      assert.doesNotMatch(result.stderr + result.stdout, /S3cretPw/)
    }
  })

  test('the library refuses a URL without its scheme without quoting it', async () => {
    await assert.rejects(
      openUrlDatabase([...CLI_URL_DRIVERS.values()], 'orders', 'txkit:S3cretPw@db1/orders'),
      (error: unknown) =>
        isConfigurationError(error) &&
        /The connection URL \(not shown: it may hold a password\) is not a URL/.test(
          error.message,
        ) &&
        !error.message.includes('S3cretPw'),
    )
  })
})

describe('passwords are redacted by their place in the URL, never as text', () => {
  test('password "p": the output of status is intact', async () => {
    const url = withCredentials(await servers.postgres.createDatabase(), 'postgres', 'p')
    const result = await runCli(['status', '--db', `a=${url}`])
    assert.equal(result.code, 0, result.stdout + result.stderr)
    assert.match(result.stdout, /^No prepared transaction of ours is in doubt\.$/m)
    assert.doesNotMatch(result.stdout + result.stderr, /\*\*\*/)
  })

  test('user and password "postgres": a message quoting the URL masks the password only', async () => {
    const result = await runCli(['status', '--db', 'a=postgresx://postgres:postgres@db1/orders'])
    assert.equal(result.code, 2, result.stderr)
    assert.match(
      result.stderr,
      /Unsupported scheme "postgresx:\/\/" in postgresx:\/\/postgres:\*\*\*@db1\/orders: use postgres:\/\//,
    )
  })

  test('URLs inside any text (a driver error): each password masked, the rest as it was', () => {
    assert.equal(
      redactUrlsIn(
        'connect to postgres://postgres:postgres@db1:5432/postgres failed; mysql://u:p@h/p?x=1 too',
      ),
      'connect to postgres://postgres:***@db1:5432/postgres failed; mysql://u:***@h/p?x=1 too',
    )
    // Its last "@" ends the userinfo; a password with an unescaped "/" is masked up to its "@".
    assert.equal(redactUrlsIn('x mysql://u:a@b:c@h/d y'), 'x mysql://u:***@h/d y')
    assert.equal(redactUrlsIn('postgres://u:pa/ss@h/d'), 'postgres://u:***@h/d')
    // No password: nothing changes.
    assert.equal(
      redactUrlsIn('postgres://u@h:5432/d and postgres://h:5432/d?a=b'),
      'postgres://u@h:5432/d and postgres://h:5432/d?a=b',
    )
  })
})
