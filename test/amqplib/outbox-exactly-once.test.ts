/**
 * The outbox and the inbox end to end, under faults: writers (PostgreSQL + MariaDB) SIGKILLed at
 * every commit step, two `txkit relay` processes of which one is SIGKILLed and restarted, the
 * relays' RabbitMQ connections cut and restored, a consumer whose deliveries are cut mid-way.
 * Afterwards every committed transaction's message is applied exactly once by the inbox consumer
 * across its two databases, none of a rolled back one, and one key's messages in commit order.
 */
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import amqp from 'amqplib'
import type mysql from 'mysql2/promise'
import { brokerSkip, createVhost, SwitchProxy } from '../../harness/brokers.js'
import type { CrashPoint } from '../../harness/crash-coordinator.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../../harness/fixture.js'
import { startCli } from '../../harness/run-cli.js'
import { runCrashCoordinator } from '../../harness/run-crash-coordinator.js'
import { waitFor } from '../../harness/wait-for.js'
import { consumeAmqp } from '../../src/amqplib/amqplib.js'
import { createInbox, createInboxTable, createOutboxTables, recover } from '../../src/index.js'

const servers = serversForFile()
const { fixture } = servers

const PREFIX = 'crash'
const KILL_POINTS: Array<CrashPoint | undefined> = [
  undefined,
  { step: 'prepare', when: 'before', index: 1 },
  { step: 'prepare', when: 'after', index: 1 },
  { step: 'decision', when: 'before' },
  { step: 'decision', when: 'after' },
  { step: 'commit', when: 'before', index: 1 },
  { step: 'commit', when: 'after', index: 1 },
]

/** A relay config module, inside build/ so that it resolves the repository's packages. */
async function relayConfig(amqpUrl: string): Promise<string> {
  const file = fileURLToPath(new URL(`./relay-config-${process.pid}.mjs`, import.meta.url))
  const broker = new URL('../../src/amqplib/amqplib.js', import.meta.url).href
  await writeFile(
    file,
    `import amqp from 'amqplib'
import { amqpBroker } from ${JSON.stringify(broker)}
export default async () => ({
  outbox: { destinations: { events: { broker: 'rabbitmq' }, keyed: { broker: 'rabbitmq', address: 'events' } } },
  brokers: { rabbitmq: amqpBroker(await amqp.connect(${JSON.stringify(amqpUrl)}, { recovery: { initialDelay: 100, maxDelay: 500 } }), { confirmTimeoutMs: 5000 }) },
  batchSize: 20,
  retryDelay: { initial: 100, max: 1000 },
  pollInterval: { min: 50, max: 500 },
})
`,
  )
  return file
}

test('crashing writers, killed relays and cut connections: each committed message applied once, none of a rolled back one, keys in order', async (t) => {
  const skipped = await brokerSkip('RabbitMQ', 5672)
  if (skipped !== undefined) return t.skip(skipped)
  const mariadb = servers.mariadb
  if (mariadb === undefined) return t.skip('no MariaDB on this machine')

  // The sender's databases: a (PostgreSQL: decision log and outbox) and m (MariaDB).
  const [urlA, urlC] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
  const [urlM, urlN] = await Promise.all([mariadb.createDatabase(), mariadb.createDatabase()])
  const a = fixture.pg(urlA ?? '', 'a')
  const m = await fixture.mysql(urlM ?? '', 'm')
  await a.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
  await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
  const writer = fixture.coordinator({
    decisionLog: a.db,
    prefix: PREFIX,
    outbox: { destinations: { keyed: { broker: 'rabbitmq', address: 'events' } } },
  })
  await writer.createDecisionLog()
  await createOutboxTables(a.db)
  await createOutboxTables(m.db)

  // The consumer's databases: c (PostgreSQL: inbox, applied messages) and n (MariaDB: counts).
  const c = fixture.pg(urlC ?? '', 'c')
  const n = await fixture.mysql(urlN ?? '', 'n')
  await c.pool.query('CREATE TABLE applied (message_id text, body text, key text, seq int)')
  await n.pool.query('CREATE TABLE applied (message_id varchar(128), body text) ENGINE=InnoDB')
  const consumerManager = await fixture.manager({ decisionLog: c.db, prefix: 'consumer' })
  await createInboxTable(c.db)
  const inbox = createInbox({ manager: consumerManager, database: c.db, consumer: 'billing' })

  // RabbitMQ: the exchange and queue of a vhost of this test; relays reach it through a proxy.
  const vhost = await createVhost()
  t.after(() => vhost.remove())
  const setup = await amqp.connect(vhost.url())
  t.after(() => setup.close().catch(() => undefined))
  const channel = await setup.createChannel()
  await channel.assertExchange('events', 'topic', { durable: true })
  await channel.assertQueue('billing', { durable: true })
  await channel.bindQueue('billing', 'events', '#')
  const proxy = await SwitchProxy.start(5672)
  t.after(() => proxy.stop())

  // The consumer: the inbox applies each message in c and n in one transaction, then acks.
  const handle = inbox.handler(async (body, tx, message) => {
    const cb = await tx.join('c', c.db)
    const nb = await tx.join('n', n.db)
    const keyed =
      typeof body === 'object' && body !== null ? (body as { key: string; seq: number }) : undefined
    await cb.query('INSERT INTO applied VALUES ($1, $2, $3, $4)', [
      message.id,
      JSON.stringify(body),
      keyed?.key ?? null,
      keyed?.seq ?? null,
    ])
    await nb.query('INSERT INTO applied VALUES (?, ?)', [message.id, JSON.stringify(body)])
  })
  const outcomes = { applied: 0, duplicate: 0 }
  const countedHandle = async (message: Parameters<typeof handle>[0]) => {
    const outcome = await handle(message)
    outcomes[outcome]++
    return outcome
  }
  const consumerConnection = await amqp.connect(vhost.url())
  t.after(() => consumerConnection.close().catch(() => undefined))
  let consumer = await consumeAmqp(consumerConnection, {
    queue: 'billing',
    handle: countedHandle,
    prefetch: 1,
    retryDelayMs: 100,
  })
  t.after(() => consumer.stop())

  // Two relays, as `txkit relay` processes.
  const config = await relayConfig(vhost.url(proxy.port))
  const relays: ChildProcess[] = []
  const startRelay = () => {
    const child = startCli(['relay', '--db', `a=${urlA}`, '--db', `m=${urlM}`, '--config', config])
    child.stderr?.on('data', () => undefined)
    relays.push(child)
    return child
  }
  t.after(() => {
    for (const child of relays) child.kill('SIGKILL')
  })
  const firstRelay = startRelay()
  startRelay()

  // Writers: crashing coordinators, one message each (no key), and keyed transactions in turn.
  const crashed: string[] = []
  const keyed: string[] = []
  const crashes = (async () => {
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        KILL_POINTS.map(async (point, index) => {
          const marker = `w${round}-${index}-${Math.random().toString(36).slice(2, 10)}`
          crashed.push(marker)
          await runCrashCoordinator({
            databases: [
              { name: 'a', kind: 'postgres', url: urlA ?? '' },
              { name: 'm', kind: 'mariadb', url: urlM ?? '' },
            ],
            decisionLog: 'a',
            protocol: 'decision',
            prefix: PREFIX,
            marker,
            messageId: marker,
            ...(point && { killAt: point }),
          })
        }),
      )
    }
  })()
  const keyedWriters = Promise.all(
    ['k1', 'k2', 'k3'].map(async (key) => {
      for (let seq = 1; seq <= 12; seq++) {
        const id = await writer.transaction({ a: a.db, m: m.db }, async (branches, tx) => {
          await branches.m.query('INSERT INTO marks VALUES (?)', [`${key}-${seq}`])
          return tx.outbox.send('keyed', { key, seq }, { key })
        })
        keyed.push(id)
      }
    }),
  )
  // Faults while they run: the relays' broker connections cut for a while; one relay killed.
  await new Promise((resolve) => setTimeout(resolve, 1500))
  proxy.down()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  proxy.up()
  firstRelay.kill('SIGKILL')
  await new Promise((resolve) => setTimeout(resolve, 500))
  startRelay()
  // The consumer's deliveries cut mid-way: unacked messages come again.
  await consumer.stop()
  consumer = await consumeAmqp(consumerConnection, {
    queue: 'billing',
    handle: countedHandle,
    prefetch: 1,
    retryDelayMs: 100,
  })
  await Promise.all([crashes, keyedWriters])

  // Recovery finishes the writers' in-doubt transactions (and any consumer transaction in doubt).
  await waitFor('recovery to finish every in-doubt transaction', 120_000, async () => {
    await recover({ databases: [a.db, m.db], decisionLog: a.db, prefix: PREFIX, minAge: 0 })
    const left = [...(await pgPrepared(a.pool)), ...(await xaRecover(m.pool))].filter((xid) =>
      xid.startsWith(`${PREFIX}.`),
    )
    return left.length === 0
  })
  const committed: string[] = []
  for (const marker of crashed) {
    const { rowCount } = await a.pool.query('SELECT 1 FROM marks WHERE tx = $1', [marker])
    if (rowCount === 1) committed.push(marker)
  }
  const rolledBack = crashed.filter((marker) => !committed.includes(marker))
  assert.ok(
    committed.length >= 3 && rolledBack.length >= 3,
    `${committed.length} committed, ${rolledBack.length} rolled back`,
  )

  const expected = [...committed, ...keyed]
  await waitFor(`the consumer to apply ${expected.length} messages`, 180_000, async () => {
    const { rows } = await c.pool.query<{ count: string }>(
      'SELECT count(DISTINCT message_id) AS count FROM applied',
    )
    return Number(rows[0]?.count) >= expected.length
  })
  // Quiet for a moment: any late duplicate would land now.
  await new Promise((resolve) => setTimeout(resolve, 2000))

  // The broker delivers some again (a relay that died between the confirm and its commit does
  // this): the inbox acknowledges them without applying them twice.
  const { rows: again } = await a.pool.query<{ id: string; body: Buffer; content_type: string }>(
    "SELECT id, body, content_type FROM txkit_outbox WHERE state = 'D' ORDER BY position LIMIT 5",
  )
  for (const row of again) {
    channel.publish('events', '', row.body, {
      messageId: row.id,
      contentType: row.content_type,
      persistent: true,
    })
  }
  await waitFor('the redeliveries to be acknowledged', 60_000, async () => outcomes.duplicate >= 5)
  const { rows: applied } = await c.pool.query<{ message_id: string; times: string }>(
    'SELECT message_id, count(*) AS times FROM applied GROUP BY message_id',
  )
  const times = new Map(applied.map((row) => [row.message_id, Number(row.times)]))
  for (const id of expected)
    assert.equal(times.get(id), 1, `message ${id} applied ${times.get(id) ?? 0} times`)
  for (const marker of rolledBack)
    assert.equal(times.get(marker), undefined, `rolled back ${marker} applied`)
  assert.equal(times.size, expected.length, 'nothing else applied')
  const [counted] = await n.pool.query<mysql.RowDataPacket[]>(
    'SELECT count(*) AS total, count(DISTINCT message_id) AS distinct_ids FROM applied',
  )
  assert.equal(
    Number(counted[0]?.total),
    expected.length,
    'the second database applied each once too',
  )
  assert.equal(Number(counted[0]?.distinct_ids), expected.length)
  // One key's messages were applied in commit order.
  const { rows: order } = await c.pool.query<{ key: string; seq: number }>(
    'SELECT key, seq FROM applied WHERE key IS NOT NULL ORDER BY ctid',
  )
  for (const key of ['k1', 'k2', 'k3']) {
    const seqs = order.filter((row) => row.key === key).map((row) => row.seq)
    assert.deepEqual(
      seqs,
      Array.from({ length: 12 }, (_, i) => i + 1),
      `order of ${key}`,
    )
  }
  t.diagnostic(
    `${committed.length} crashed writers committed, ${rolledBack.length} rolled back, ${keyed.length} keyed; ` +
      `the inbox applied ${outcomes.applied} and acknowledged ${outcomes.duplicate} duplicates`,
  )
  // Every outbox message of a committed transaction is marked delivered.
  const { rows: pending } = await a.pool.query("SELECT id FROM txkit_outbox WHERE state <> 'D'")
  assert.deepEqual(pending, [])
})
