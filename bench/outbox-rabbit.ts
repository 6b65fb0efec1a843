/**
 * Key 3: the relay draining a backlog of committed messages into RabbitMQ with publisher confirms
 * (txkit/amqplib), against amqplib publishing the same messages directly on a confirm channel,
 * `waitForConfirms` after each batch of 200 as the relay's batches. A vhost of the bench's own,
 * created with `rabbitmqctl add_vhost` and deleted after.
 */
import amqp, { type ChannelModel } from 'amqplib'
import pg from 'pg'
import { brokerSkip, createVhost } from '../harness/brokers.js'
import { amqpBroker } from '../src/amqplib/amqplib.js'
import {
  DESTINATION_HEADER,
  KEY_HEADER,
  MESSAGE_ID_HEADER,
  type MessageBroker,
  type PublishOutcome,
  type RelayedMessage,
} from '../src/message/message-broker.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { insertBacklog, truncateOutbox } from './outbox-fakes.js'
import { startRelay } from './outbox-relay-adapter.js'
import { alternate, type Spread } from './outbox-rounds.js'

const EXCHANGE = 'txkit-bench'
const QUEUE = 'txkit-bench-queue'
const BATCH = 200

/** A broker passing every call to `inner`, counting what was published; `until(n)` waits for n. */
class CountingBroker implements MessageBroker {
  readonly kind: string
  readonly maxMessageBytes: number
  readonly #inner: MessageBroker
  published = 0
  #waiting: { count: number; resolve: () => void } | undefined

  constructor(inner: MessageBroker) {
    this.#inner = inner
    this.kind = inner.kind
    this.maxMessageBytes = inner.maxMessageBytes
  }

  start(addresses: readonly string[]): Promise<void> {
    return this.#inner.start(addresses)
  }

  async publish(messages: readonly RelayedMessage[]): Promise<PublishOutcome[]> {
    const outcomes = await this.#inner.publish(messages)
    const bad = outcomes.find((outcome) => outcome.status !== 'published')
    if (bad !== undefined)
      throw new Error(`RabbitMQ did not take a message: ${JSON.stringify(bad)}`)
    this.published += outcomes.length
    if (this.#waiting !== undefined && this.published >= this.#waiting.count)
      this.#waiting.resolve()
    return outcomes
  }

  until(count: number): Promise<void> {
    if (this.published >= count) return Promise.resolve()
    return new Promise((resolve) => {
      this.#waiting = { count, resolve }
    })
  }

  close(): Promise<void> {
    return this.#inner.close()
  }
}

/** The same messages as the backlog's rows, built in memory. */
function directMessages(count: number, tag: string) {
  return Array.from({ length: count }, (_, g) => ({
    id: `${tag}-${g}`,
    key: `k${g % 1000}`,
    body: Buffer.from(`{"order":${g},"total":12.5,"note":"a backlog message of the bench"}`),
  }))
}

async function publishDirectly(connection: ChannelModel, count: number, tag: string) {
  const messages = directMessages(count, tag)
  const channel = await connection.createConfirmChannel()
  const started = performance.now()
  for (let from = 0; from < messages.length; from += BATCH) {
    for (const message of messages.slice(from, from + BATCH)) {
      channel.publish(EXCHANGE, message.key, message.body, {
        persistent: true,
        mandatory: true,
        messageId: message.id,
        contentType: 'application/json',
        headers: {
          source: 'bench',
          [MESSAGE_ID_HEADER]: message.id,
          [DESTINATION_HEADER]: 'events',
          [KEY_HEADER]: message.key,
        },
      })
    }
    await channel.waitForConfirms()
  }
  const seconds = (performance.now() - started) / 1000
  await channel.close()
  return count / seconds
}

export async function runRabbitBench(
  url: string,
  count: number,
  rounds: number,
  log: (line: string) => void,
): Promise<{ skipped?: string; a: Spread; b: Spread; ratio: Spread }> {
  const skipped = await brokerSkip('RabbitMQ', 5672)
  const none = { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [] }
  if (skipped !== undefined) return { skipped, a: none, b: none, ratio: none }
  const vhost = await createVhost()
  const pool = new pg.Pool({ connectionString: url, max: 8 })
  pool.on('error', () => {})
  const connection = await amqp.connect(vhost.url())
  try {
    const admin = await connection.createChannel()
    await admin.assertExchange(EXCHANGE, 'fanout', { durable: true })
    await admin.assertQueue(QUEUE, { durable: true })
    await admin.bindQueue(QUEUE, EXCHANGE, '')
    const database = pgDatabase(pool, { name: 'relay' })
    const arrived = async () => {
      const { messageCount } = await admin.checkQueue(QUEUE)
      await admin.purgeQueue(QUEUE)
      if (messageCount !== count) throw new Error(`${messageCount} of ${count} messages arrived`)
    }
    const viaRelay = async (round: number) => {
      await truncateOutbox(pool)
      await insertBacklog(pool, count, `r${round}`)
      const broker = new CountingBroker(amqpBroker(connection))
      // Timed from the relay running (tables checked, broker started), as the direct side is
      // timed from its channel open.
      const relay = await startRelay(database, broker, { address: EXCHANGE, batchSize: BATCH })
      const started = performance.now()
      await broker.until(count)
      const rate = count / ((performance.now() - started) / 1000)
      await relay.stop()
      await arrived()
      return rate
    }
    const direct = async (round: number) => {
      const rate = await publishDirectly(connection, count, `d${round}`)
      await arrived()
      return rate
    }
    // One untimed round of each: the exchange, the queue's files, the relay's statements.
    await viaRelay(-1)
    await direct(-1)
    return await alternate(rounds, viaRelay, direct, (round, a, b) =>
      log(`  round ${round + 1}: relay ${a.toFixed(0)} msg/s, direct ${b.toFixed(0)} msg/s`),
    )
  } finally {
    await connection.close().catch(() => undefined)
    await truncateOutbox(pool).catch(() => undefined)
    await pool.end()
    await vhost.remove()
  }
}
