/**
 * `txkit init --outbox`, `txkit relay` and `txkit outbox status|list|replay|gc` against a real
 * PostgreSQL: what they print, their exit codes, and that no password is ever printed.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import pg from 'pg'
import { freePort } from '../../harness/free-port.js'
import { runCli, runningCli } from '../../harness/run-cli.js'
import { stopTestServers, type TestServer, testPostgres } from '../../harness/test-databases.js'
import { createCoordinator } from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

// Trust authentication accepts any password: the sentinel travels everywhere a real one would.
const SENTINEL = 'S3ntinel-pa55word'
let server: TestServer
let url: string
let bare: string
let pool: pg.Pool
let directory: string

function withPassword(plain: string): string {
  const parsed = new URL(plain)
  parsed.password = SENTINEL
  return parsed.toString()
}

function assertNoSecret(...texts: string[]): void {
  for (const text of texts) {
    assert.ok(!text.includes(SENTINEL), `password printed: ${text.slice(0, 400)}`)
  }
}

before(async () => {
  server = await testPostgres()
  url = withPassword(await server.createDatabase())
  bare = withPassword(await server.createDatabase())
  pool = new pg.Pool({ connectionString: url })
  pool.on('error', () => {})
  directory = mkdtempSync(join(tmpdir(), 'txkit-cli-outbox-'))
})
after(async () => {
  await pool.end()
  rmSync(directory, { recursive: true, force: true })
  await stopTestServers()
})

/** Commits one transaction sending `count` messages (key `k` unless told); answers their ids. */
async function send(count: number, key: string | undefined = 'k'): Promise<string[]> {
  const database = pgDatabase(pool, { name: 'a' })
  const coordinator = createCoordinator({
    decisionLog: database,
    outbox: { destinations: { orders: { broker: 'fake' } } },
  })
  try {
    await coordinator.createDecisionLog()
    return await coordinator.transaction({ a: database }, async (_branches, tx) =>
      Array.from({ length: count }, (_, n) =>
        tx.outbox.send('orders', { n }, key === undefined ? {} : { key }),
      ),
    )
  } finally {
    await coordinator.close()
  }
}

/** A relay config whose fake broker appends each published id to `published`, refusing `refuse`. */
function config(name: string, published: string, refuse: readonly string[] = []): string {
  const file = join(directory, `${name}.mjs`)
  writeFileSync(
    file,
    `import { appendFileSync } from 'node:fs'
const refuse = new Set(${JSON.stringify(refuse)})
export default async ({ databases }) => ({
  outbox: { destinations: { orders: { broker: 'fake' } } },
  brokers: {
    fake: {
      kind: 'fake',
      maxMessageBytes: 1000000,
      async start() {},
      async publish(messages) {
        return messages.map((message) => {
          if (refuse.has(message.id)) return { status: 'refused', reason: 'no such queue' }
          appendFileSync(${JSON.stringify(published)}, message.id + ' ' + Object.keys(databases).join(',') + '\\n')
          return { status: 'published' }
        })
      },
      async close() {},
    },
  },
  pollInterval: { min: 50, max: 200 },
})
`,
  )
  return file
}

function publishedIds(file: string): string[] {
  try {
    return readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split(' ')[0] as string)
  } catch {
    return []
  }
}

describe('txkit outbox and relay commands', () => {
  test('init --outbox creates the outbox tables (or prints their SQL)', async () => {
    const printed = await runCli(['init', '--db', `a=${url}`, '--outbox', '--print-sql'])
    assert.equal(printed.code, 0, printed.stderr)
    assert.match(printed.stdout, /CREATE TABLE IF NOT EXISTS "txkit_outbox"/)
    // PostgreSQL keeps no key table: a key's turn is an advisory lock.
    assert.doesNotMatch(printed.stdout, /txkit_outbox_key/)
    const created = await runCli(['init', '--db', `a=${url}`, '--outbox'])
    assert.equal(created.code, 0, created.stderr)
    assert.equal(created.stdout.trim(), 'Outbox table txkit_outbox is ready in "a".')
    const { rows } = await pool.query(
      "SELECT count(*)::int AS n FROM information_schema.tables WHERE table_name IN ('txkit_outbox', 'txkit_outbox_key')",
    )
    assert.equal(rows[0]?.n, 1)
    const misplaced = await runCli(['init', '--db', `a=${url}`, '--outbox-table', 'x'])
    assert.equal(misplaced.code, 2)
    assert.match(misplaced.stderr, /add --outbox/)
    assertNoSecret(printed.stdout, printed.stderr, created.stdout, created.stderr)
  })

  test('relay publishes until SIGTERM; status, list, replay and gc show and repair the outbox', async () => {
    const [refused, ...rest] = await send(3)
    const status = await runCli(['outbox', 'status', '--db', `a=${url}`])
    assert.equal(status.code, 0, status.stderr)
    assert.match(status.stdout, /^a: 3 pending \(oldest [\d.]+m?s\), 0 delivered, 0 dead$/m)

    const published = join(directory, 'published.txt')
    const port = await freePort()
    const relay = runningCli([
      'relay',
      '--db',
      `a=${url}`,
      '--config',
      config('one', published, [refused as string]),
      '--metrics-port',
      String(port),
    ])
    for (let i = 0; i < 400 && publishedIds(published).length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    // Refused: dead; the key's later messages then go, in order.
    assert.deepEqual(publishedIds(published), rest)
    assert.ok(
      readFileSync(published, 'utf8').includes(' a\n'),
      'the config function got the databases',
    )
    const more = await send(2, undefined)
    for (let i = 0; i < 400 && publishedIds(published).length < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.deepEqual(publishedIds(published).slice(2).sort(), [...more].sort())
    assert.ok(await relay.until(/txkit relay: batch done/))
    // What Prometheus scrapes: the counters, and each database's pending messages.
    const scraped = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    assert.match(scraped, /^txkit_outbox_published_total 4$/m)
    assert.match(scraped, /^txkit_outbox_dead_lettered_total 1$/m)
    assert.match(scraped, /^txkit_outbox_pending\{database="a"\} \d+$/m)
    assert.match(scraped, /^# TYPE txkit_outbox_oldest_pending_age_seconds gauge$/m)
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 404)
    assertNoSecret(scraped)
    assert.equal(await relay.stop(), 0, relay.stderr())
    assert.match(relay.stderr(), /txkit relay: done/)
    assertNoSecret(relay.stderr())

    const after = await runCli(['outbox', 'status', '--db', `a=${url}`, '--json'])
    assert.equal(after.code, 1, 'a dead message needs a person')
    assert.deepEqual(JSON.parse(after.stdout).databases[0], {
      database: 'a',
      pending: 0,
      delivered: 4,
      dead: 1,
      oldestPendingAgeMs: 0,
    })
    const dead = await runCli(['outbox', 'list', '--db', `a=${url}`, '--state', 'dead', '--json'])
    assert.equal(dead.code, 0, dead.stderr)
    const messages = JSON.parse(dead.stdout).messages
    assert.deepEqual(
      messages.map((each: { id: string }) => each.id),
      [refused],
    )
    assert.match(messages[0].lastError, /refused by broker "fake": no such queue/)
    const text = await runCli(['outbox', 'list', '--db', `a=${url}`, '--id', refused as string])
    assert.match(text.stdout, new RegExp(`^a ${refused} dead → orders key=k#1 tries=1 `, 'm'))

    const replay = await runCli(['outbox', 'replay', '--db', `a=${url}`, '--id', refused as string])
    assert.equal(replay.code, 0, replay.stderr)
    assert.equal(replay.stdout.trim(), 'a: 1 dead message(s) pending again.')
    const again = await runCli(['outbox', 'status', '--db', `a=${url}`])
    assert.match(again.stdout, /^a: 1 pending .*, 4 delivered, 0 dead$/m)

    const kept = await runCli(['outbox', 'gc', '--db', `a=${url}`])
    assert.equal(kept.stdout.trim(), 'a: deleted 0 delivered message(s) and 0 idle key(s).')
    const collected = await runCli(['outbox', 'gc', '--db', `a=${url}`, '--older-than', '0'])
    assert.equal(collected.code, 0, collected.stderr)
    assert.equal(collected.stdout.trim(), 'a: deleted 4 delivered message(s) and 0 idle key(s).')
    assertNoSecret(status.stdout, after.stdout, dead.stdout, replay.stdout, collected.stdout)
  })

  test('usage errors and a wrong setup exit 2, saying what is wrong, never the password', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['outbox', '--db', `a=${url}`], /takes one of status, list, replay, gc/],
      [['outbox', 'replay', '--db', `a=${url}`], /--id ID \(repeatable\) or --all-dead/],
      [['outbox', 'status', '--db', `a=${url}`, '--state', 'dead'], /does not take --state/],
      [['outbox', 'list', '--db', `a=${url}`, '--state', 'gone'], /--state takes pending/],
      [['relay', '--db', `a=${url}`], /needs --config/],
      [
        ['relay', '--db', `a=${url}`, '--config', 'x.mjs', '--metrics-port', 'ninety'],
        /--metrics-port takes a port number/,
      ],
      [
        ['relay', '--db', `a=${url}`, '--config', join(directory, 'missing.mjs')],
        /could not be loaded/,
      ],
    ]
    const badKey = join(directory, 'bad-key.mjs')
    writeFileSync(
      badKey,
      'export default { outbox: { destinations: {} }, brokers: {}, databases: [] }\n',
    )
    cases.push([['relay', '--db', `a=${url}`, '--config', badKey], /unknown key "databases"/])
    const noBroker = join(directory, 'no-broker.mjs')
    writeFileSync(
      noBroker,
      "export default { outbox: { destinations: { orders: { broker: 'fake' } } }, brokers: {} }\n",
    )
    cases.push([
      ['relay', '--db', `a=${url}`, '--config', noBroker],
      /broker "fake", which createRelay\(\) is not given/,
    ])
    cases.push([
      ['relay', '--db', `b=${bare}`, '--config', config('bare', join(directory, 'bare.txt'))],
      /Database "b" has no usable outbox: missing txkit_outbox\. Create/,
    ])
    for (const [args, message] of cases) {
      const result = await runCli(args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`)
      assert.match(result.stderr, message)
      assertNoSecret(result.stdout, result.stderr)
    }
  })
})
