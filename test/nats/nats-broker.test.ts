/**
 * `txkit/nats` on the local NATS JetStream, in a stream of this file's own (and a private server
 * to kill): publish and consume (ack after handle), per-key order, deduplication by id, a subject
 * no stream captures, size limit, a server that stops and comes back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { AckPolicy, type JetStreamManager, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import {
  brokerSkip,
  relayedMessage as message,
  randomName,
  startNatsServer,
} from '../../harness/brokers.js'
import { waitFor } from '../../harness/wait-for.js'
import { isBrokerSetupError, type RelayedMessage } from '../../src/index.js'
import type { ReceivedMessage } from '../../src/message/received-message.js'
import { consumeNats, natsBroker } from '../../src/nats/nats.js'

const skip = await brokerSkip('NATS', 4222)

describe('txkit/nats', { skip }, () => {
  let connection: NatsConnection
  let manager: JetStreamManager
  const streams: string[] = []

  /** A stream capturing `<prefix>.>` and a durable consumer with a 2 s ack wait. */
  async function stream(jsm = manager): Promise<{ name: string; subject: (s: string) => string }> {
    const name = randomName('txkit_test').replace(/-/g, '_')
    await jsm.streams.add({ name, subjects: [`${name}.>`] })
    await jsm.consumers.add(name, {
      durable_name: 'reader',
      ack_policy: AckPolicy.Explicit,
      ack_wait: 2_000_000_000,
    })
    if (jsm === manager) streams.push(name)
    return { name, subject: (s) => `${name}.${s}` }
  }

  function collect(name: string, nc = connection) {
    const received: ReceivedMessage[] = []
    const consumer = consumeNats(nc, {
      stream: name,
      consumer: 'reader',
      handle: async (m) => {
        received.push(m)
      },
    })
    return { received, consumer }
  }

  before(async () => {
    connection = await connect({ servers: '127.0.0.1:4222' })
    manager = await jetstreamManager(connection)
  })
  after(async () => {
    for (const name of streams) await manager.streams.delete(name).catch(() => undefined)
    await connection?.close()
  })

  test('a published message reaches a consumer with its id, headers, key, body and content type', async () => {
    const { name, subject } = await stream()
    const broker = natsBroker(connection)
    assert.equal(broker.kind, 'nats')
    assert.equal(broker.maxMessageBytes, connection.info?.max_payload)
    await broker.start([subject('orders')])
    const sent = message('m-1', subject('orders'), {
      key: 'o-1',
      headers: { traceparent: '00-abc-def-01' },
    })
    assert.deepEqual(await broker.publish([sent]), [{ status: 'published' }])
    const { received, consumer } = collect(name)
    await waitFor('the delivery', 30_000, async () => received.length === 1)
    await (await consumer).stop()
    assert.deepEqual(
      { ...received[0], body: Buffer.from(received[0]?.body ?? []) },
      {
        id: 'm-1',
        destination: 'order-events',
        key: 'o-1',
        headers: { traceparent: '00-abc-def-01' },
        body: Buffer.from(JSON.stringify({ id: 'm-1' })),
        contentType: 'application/json',
      },
    )
    await waitFor(
      'the ack',
      30_000,
      async () => (await manager.consumers.info(name, 'reader')).num_ack_pending === 0,
    )
  })

  test('start() refuses a subject no stream captures, naming the fix', async () => {
    await assert.rejects(
      natsBroker(connection).start(['txkit_nowhere.orders']),
      (error: unknown) => {
        assert.ok(isBrokerSetupError(error))
        assert.match(
          error.message,
          /No JetStream stream captures subject "txkit_nowhere.orders".*nats stream add/,
        )
        return true
      },
    )
  })

  test('500 messages of one key arrive in order; a republished id is dropped by the stream', async () => {
    const { name, subject } = await stream()
    const broker = natsBroker(connection)
    const batch = Array.from({ length: 500 }, (_, i) =>
      message(`k-${i}`, subject('ordered'), { key: 'k' }),
    )
    const outcomes = await broker.publish(batch)
    assert.equal(outcomes.filter((o) => o.status === 'published').length, 500)
    assert.deepEqual(await broker.publish([batch[0] as RelayedMessage]), [{ status: 'published' }])
    assert.equal(
      (await manager.streams.info(name)).state.messages,
      500,
      'deduplicated by Nats-Msg-Id',
    )
    const { received, consumer } = collect(name)
    await waitFor('500 deliveries', 60_000, async () => received.length === 500)
    await (await consumer).stop()
    assert.deepEqual(
      received.map((m) => m.id),
      batch.map((m) => m.id),
    )
  })

  test('a subject no stream captures and a too large message are refused with a reason; the rest is published', async () => {
    const { name, subject } = await stream()
    const broker = natsBroker(connection, { maxMessageBytes: 200 })
    const outcomes = await broker.publish([
      message('r-1', subject('a')),
      message('r-2', 'txkit_nowhere.orders'),
      message('r-3', subject('a'), { body: Buffer.alloc(500) }),
      message('r-4', subject('a')),
    ])
    assert.deepEqual(outcomes[0], { status: 'published' })
    assert.match(
      (outcomes[1] as { reason: string }).reason,
      /no JetStream stream captures subject "txkit_nowhere.orders"/,
    )
    assert.match(
      (outcomes[2] as { reason: string }).reason,
      /larger than the broker's limit of 200 bytes/,
    )
    assert.deepEqual(outcomes[3], { status: 'published' })
    assert.equal((await manager.streams.info(name)).state.messages, 2)
    const limit = connection.info?.max_payload ?? 0
    const [tooLarge] = await natsBroker(connection, { maxMessageBytes: limit * 2 }).publish([
      message('r-5', subject('a'), { body: Buffer.alloc(limit + 1) }),
    ])
    assert.match(
      (tooLarge as { reason: string }).reason,
      /max_payload/,
      "past the server's max_payload: refused",
    )
  })

  test('a server that stopped fails the batch; once restarted, publishing works again', async () => {
    const server = await startNatsServer()
    const nc = await connect({
      servers: `127.0.0.1:${server.port}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 200,
    })
    try {
      const { subject } = await stream(await jetstreamManager(nc))
      const broker = natsBroker(nc, { timeoutMs: 2000 })
      assert.deepEqual(await broker.publish([message('d-1', subject('x'))]), [
        { status: 'published' },
      ])
      await server.kill()
      const outcomes = await broker.publish([
        message('d-2', subject('x')),
        message('d-3', subject('x')),
      ])
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['failed', 'failed'],
      )
      await server.restart()
      await waitFor('publishing again', 60_000, async () => {
        const [outcome] = await broker.publish([message('d-2', subject('x'))])
        return outcome?.status === 'published'
      })
    } finally {
      await nc.close()
      await server.stop()
    }
  })

  test('a consumer acks only after handle resolves: a message whose handler never finished is delivered again', async () => {
    const { name, subject } = await stream()
    await natsBroker(connection).publish([message('a-1', subject('acks'))])
    const crashing = await connect({ servers: '127.0.0.1:4222' })
    let started = 0
    const crashed = await consumeNats(crashing, {
      stream: name,
      consumer: 'reader',
      handle: () => {
        started++
        return new Promise(() => undefined)
      },
    })
    await waitFor('the first handler', 30_000, async () => started === 1)
    await crashing.close()
    void crashed.stop() // its pull timers stop; the handler never finishes

    let failures = 0
    const errors: unknown[] = []
    const received: ReceivedMessage[] = []
    const consumer = await consumeNats(connection, {
      stream: name,
      consumer: 'reader',
      nakDelayMs: 50,
      onError: (error) => errors.push(error),
      handle: async (m) => {
        if (failures++ < 2) throw new Error('not yet')
        received.push(m)
      },
    })
    await waitFor('the redelivery to succeed', 30_000, async () => received.length === 1)
    await consumer.stop()
    assert.equal(received[0]?.id, 'a-1')
    assert.equal(errors.length, 2, 'a rejected handle naks the message')
    const info = await manager.consumers.info(name, 'reader')
    assert.equal(info.num_ack_pending, 0, 'acked once handled')
    assert.equal(info.num_pending, 0)
  })
})
