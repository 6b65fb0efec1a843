/**
 * `txkit/amqplib` on the local RabbitMQ, in a vhost of this file's own: publish with confirms and
 * consume (ack after handle), per-key order, unroutable and missing exchanges refused, size limit,
 * a broker that goes down and comes back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import amqp, { type ChannelModel } from 'amqplib'
import {
  brokerSkip,
  createVhost,
  relayedMessage as message,
  SwitchProxy,
  type TestVhost,
} from '../../harness/brokers.js'
import { waitFor } from '../../harness/wait-for.js'
import { amqpBroker, consumeAmqp } from '../../src/amqplib/amqplib.js'
import { isBrokerSetupError, type RelayedMessage } from '../../src/index.js'
import type { ReceivedMessage } from '../../src/message/received-message.js'

const skip = await brokerSkip('RabbitMQ', 5672)

describe('txkit/amqplib', { skip }, () => {
  let vhost: TestVhost
  let connection: ChannelModel
  const opened: { close(): Promise<void> }[] = []

  async function connectVhost(): Promise<ChannelModel> {
    const model = await amqp.connect(vhost.url())
    model.on('error', () => undefined)
    opened.push(model)
    return model
  }

  /** A topic exchange and a queue bound to all its keys. */
  async function exchangeWithQueue(name: string): Promise<string> {
    const channel = await connection.createChannel()
    await channel.assertExchange(name, 'topic', { durable: true })
    await channel.assertQueue(`${name}-q`, { durable: true })
    await channel.bindQueue(`${name}-q`, name, '#')
    await channel.close()
    return `${name}-q`
  }

  function collect(queue: string, model = connection) {
    const received: ReceivedMessage[] = []
    const consumer = consumeAmqp(model, {
      queue,
      handle: async (m) => {
        received.push(m)
      },
    })
    return { received, consumer }
  }

  before(async () => {
    vhost = await createVhost()
    connection = await connectVhost()
  })
  after(async () => {
    for (const model of opened) await model.close().catch(() => undefined)
    await vhost?.remove()
  })

  test('a published message reaches a consumer with its id, headers, key, body and content type', async () => {
    const queue = await exchangeWithQueue('orders')
    const broker = amqpBroker(connection)
    assert.equal(broker.kind, 'rabbitmq')
    assert.equal(broker.maxMessageBytes, 16 * 1024 * 1024)
    await broker.start(['orders'])
    const sent = message('m-1', 'orders', { key: 'o-1', headers: { traceparent: '00-abc-def-01' } })
    assert.deepEqual(await broker.publish([sent]), [{ status: 'published' }])
    const { received, consumer } = collect(queue)
    await waitFor('the delivery', 30_000, async () => received.length === 1)
    await (await consumer).stop()
    assert.deepEqual(received[0], {
      id: 'm-1',
      destination: 'order-events',
      key: 'o-1',
      headers: { traceparent: '00-abc-def-01' },
      body: Buffer.from(JSON.stringify({ id: 'm-1' })),
      contentType: 'application/json',
    })
    const check = await connection.createChannel()
    assert.equal((await check.checkQueue(queue)).messageCount, 0, 'acked')
    await check.close()
    await broker.close()
  })

  test('start() refuses a missing exchange, naming it', async () => {
    const broker = amqpBroker(connection)
    await assert.rejects(broker.start(['no-such-exchange']), (error: unknown) => {
      assert.ok(isBrokerSetupError(error))
      assert.match(error.message, /no exchange "no-such-exchange".*declare the exchange/)
      return true
    })
    assert.throws(
      () => amqpBroker(connection, { maxMesageBytes: 5 } as never),
      /did you mean "maxMessageBytes"/,
    )
  })

  test('500 messages of one key arrive in order; a republished id arrives again with the same messageId', async () => {
    const queue = await exchangeWithQueue('ordered')
    const broker = amqpBroker(connection)
    const batch = Array.from({ length: 500 }, (_, i) => message(`k-${i}`, 'ordered', { key: 'k' }))
    const outcomes = await broker.publish(batch)
    assert.equal(outcomes.filter((o) => o.status === 'published').length, 500)
    assert.deepEqual(await broker.publish([batch[0] as RelayedMessage]), [{ status: 'published' }])
    const { received, consumer } = collect(queue)
    await waitFor('501 deliveries', 60_000, async () => received.length === 501)
    await (await consumer).stop()
    assert.deepEqual(
      received.slice(0, 500).map((m) => m.id),
      batch.map((m) => m.id),
    )
    assert.equal(received[500]?.id, 'k-0', 'RabbitMQ does not deduplicate: the inbox does')
    await broker.close()
  })

  test('an unroutable message and a missing exchange are refused with a reason; the rest of the batch is published', async () => {
    const queue = await exchangeWithQueue('routed')
    const channel = await connection.createChannel()
    await channel.assertExchange('unbound', 'direct', { durable: true })
    await channel.close()
    const broker = amqpBroker(connection, { maxMessageBytes: 200 })
    const outcomes = await broker.publish([
      message('r-1', 'routed'),
      message('r-2', 'unbound', { key: 'nowhere' }),
      message('r-3', 'routed'),
      message('r-4', 'missing-exchange'),
      message('r-5', 'routed', { body: Buffer.alloc(500) }),
      message('r-6', 'routed'),
    ])
    assert.deepEqual(outcomes[0], { status: 'published' })
    assert.equal(outcomes[1]?.status, 'refused')
    assert.match((outcomes[1] as { reason: string }).reason, /unroutable.*"unbound".*"nowhere"/)
    assert.deepEqual(outcomes[2], { status: 'published' })
    assert.deepEqual(outcomes[3], {
      status: 'refused',
      reason: 'RabbitMQ has no exchange "missing-exchange"',
    })
    assert.match(
      (outcomes[4] as { reason: string }).reason,
      /larger than the broker's limit of 200 bytes/,
    )
    assert.deepEqual(outcomes[5], { status: 'published' })
    const { received, consumer } = collect(queue)
    await waitFor('3 deliveries', 30_000, async () => received.length === 3)
    await (await consumer).stop()
    assert.deepEqual(
      received.map((m) => m.id),
      ['r-1', 'r-3', 'r-6'],
    )
    await broker.close()
  })

  test('a broker that went down fails the batch; once back, publishing works again', async () => {
    await exchangeWithQueue('outage')
    const proxy = await SwitchProxy.start(5672)
    const model = await amqp.connect(vhost.url(proxy.port), {
      recovery: { initialDelay: 100, maxDelay: 500 },
    })
    model.on('error', () => undefined)
    opened.push(model)
    try {
      const broker = amqpBroker(model, { confirmTimeoutMs: 3000 })
      assert.deepEqual(await broker.publish([message('d-1', 'outage')]), [{ status: 'published' }])
      proxy.down()
      const outcomes = await broker.publish([message('d-2', 'outage'), message('d-3', 'outage')])
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['failed', 'failed'],
      )
      proxy.up()
      await waitFor('publishing again', 30_000, async () => {
        const [outcome] = await broker.publish([message('d-2', 'outage')])
        return outcome?.status === 'published'
      })
      await broker.close()
    } finally {
      await proxy.stop()
    }
  })

  test('a consumer acks only after handle resolves: a message whose handler never finished is delivered again', async () => {
    const queue = await exchangeWithQueue('acks')
    const broker = amqpBroker(connection)
    await broker.publish([message('a-1', 'acks')])
    const crashing = await connectVhost()
    let started = 0
    await consumeAmqp(crashing, {
      queue,
      handle: () => {
        started++
        return new Promise(() => undefined)
      },
    })
    await waitFor('the first handler', 30_000, async () => started === 1)
    await crashing.close()

    let failures = 0
    const errors: unknown[] = []
    const received: ReceivedMessage[] = []
    const consumer = await consumeAmqp(connection, {
      queue,
      retryDelayMs: 50,
      onError: (error) => errors.push(error),
      handle: async (m) => {
        if (failures++ < 2) throw new Error('not yet')
        received.push(m)
      },
    })
    await waitFor('the redelivery to succeed', 30_000, async () => received.length === 1)
    await consumer.stop()
    assert.equal(received[0]?.id, 'a-1')
    assert.equal(errors.length, 2, 'a rejected handle requeues the message')
    const check = await connection.createChannel()
    assert.equal((await check.checkQueue(queue)).messageCount, 0, 'acked once handled')
    await check.close()
    await broker.close()
  })
})
