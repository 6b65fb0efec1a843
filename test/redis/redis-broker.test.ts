/**
 * `txkit/redis` on the local Redis, under a key prefix of this file's own (and a private server to
 * kill): publish and consume (ack after handle, pending entries claimed again), per-key order,
 * deduplication by id, a key that is not a stream, size limit, a server that stops and comes back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import {
  brokerSkip,
  relayedMessage as message,
  randomName,
  startRedisServer,
} from '../../harness/brokers.js'
import { waitFor } from '../../harness/wait-for.js'
import { isBrokerSetupError } from '../../src/index.js'
import type { ReceivedMessage } from '../../src/message/received-message.js'
import { consumeRedis, redisBroker } from '../../src/redis/redis.js'

const skip = await brokerSkip('Redis', 6379)

describe('txkit/redis', { skip }, () => {
  let redis: Redis
  const prefix = randomName('txkit-test')
  const stream = (name: string) => `${prefix}:${name}`

  function collect(name: string, options: { consumer?: string } = {}) {
    const received: ReceivedMessage[] = []
    const consumer = consumeRedis(redis, {
      stream: name,
      group: 'readers',
      consumer: options.consumer ?? 'reader-1',
      blockMs: 200,
      handle: async (m) => {
        received.push(m)
      },
    })
    return { received, consumer }
  }

  before(async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379 })
  })
  after(async () => {
    for (const pattern of [`${prefix}*`, `txkit-published:{${prefix}*`]) {
      const keys = await redis.keys(pattern)
      if (keys.length > 0) await redis.del(...keys)
    }
    redis?.disconnect()
  })

  test('a published message reaches a consumer with its id, headers, key, body and content type', async () => {
    const broker = redisBroker(redis)
    assert.equal(broker.kind, 'redis')
    assert.equal(broker.maxMessageBytes, 16 * 1024 * 1024)
    await broker.start([stream('orders')])
    const sent = message('m-1', stream('orders'), {
      key: 'o-1',
      headers: { traceparent: '00-abc-def-01' },
    })
    assert.deepEqual(await broker.publish([sent]), [{ status: 'published' }])
    const { received, consumer } = collect(stream('orders'))
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
    const pending = (await redis.xpending(stream('orders'), 'readers')) as [number, ...unknown[]]
    assert.equal(pending[0], 0, 'acknowledged')
  })

  test('start() refuses a key that is not a stream, naming the fix', async () => {
    await redis.set(stream('plain'), 'x')
    await assert.rejects(redisBroker(redis).start([stream('plain')]), (error: unknown) => {
      assert.ok(isBrokerSetupError(error))
      assert.match(error.message, /is a string, not a stream: fix the destination's address/)
      return true
    })
    assert.throws(() => redisBroker(redis, { maxlen: 5 } as never), /did you mean "maxLen"/)
  })

  test('500 messages of one key arrive in order; a republished id adds no entry', async () => {
    const broker = redisBroker(redis, { maxLen: 10_000 })
    const batch = Array.from({ length: 500 }, (_, i) =>
      message(`k-${i}`, stream('ordered'), { key: 'k' }),
    )
    const outcomes = await broker.publish(batch)
    assert.equal(outcomes.filter((o) => o.status === 'published').length, 500)
    assert.deepEqual(
      await broker.publish(batch.slice(0, 3)),
      Array(3).fill({ status: 'published' }),
    )
    assert.equal(await redis.xlen(stream('ordered')), 500, 'deduplicated by id')
    const { received, consumer } = collect(stream('ordered'))
    await waitFor('500 deliveries', 60_000, async () => received.length === 500)
    await (await consumer).stop()
    assert.deepEqual(
      received.map((m) => m.id),
      batch.map((m) => m.id),
    )
  })

  test('a key that is not a stream and a too large message are refused with a reason; the rest is published', async () => {
    await redis.set(stream('not-a-stream'), 'x')
    const broker = redisBroker(redis, { maxMessageBytes: 200 })
    const outcomes = await broker.publish([
      message('r-1', stream('mixed')),
      message('r-2', stream('not-a-stream')),
      message('r-3', stream('mixed'), { body: Buffer.alloc(500) }),
      message('r-4', stream('mixed')),
    ])
    assert.deepEqual(outcomes[0], { status: 'published' })
    assert.deepEqual(outcomes[1], {
      status: 'refused',
      reason: `Redis key "${stream('not-a-stream')}" is not a stream`,
    })
    assert.match(
      (outcomes[2] as { reason: string }).reason,
      /larger than the broker's limit of 200 bytes/,
    )
    assert.deepEqual(outcomes[3], { status: 'published' })
    assert.equal(await redis.xlen(stream('mixed')), 2)
    assert.equal(
      await redis.exists(`txkit-published:{${stream('not-a-stream')}}:r-2`),
      0,
      'no marker without an entry',
    )
  })

  test('a server that stopped fails the batch; once restarted, publishing works again', async () => {
    const server = await startRedisServer()
    const client = new Redis({ host: '127.0.0.1', port: server.port, retryStrategy: () => 200 })
    client.on('error', () => undefined)
    try {
      const broker = redisBroker(client, { timeoutMs: 2000 })
      assert.deepEqual(await broker.publish([message('d-1', 'outage')]), [{ status: 'published' }])
      await server.kill()
      const outcomes = await broker.publish([message('d-2', 'outage'), message('d-3', 'outage')])
      assert.deepEqual(
        outcomes.map((o) => o.status),
        ['failed', 'failed'],
      )
      await server.restart()
      await waitFor('publishing again', 60_000, async () => {
        const [outcome] = await broker.publish([message('d-4', 'outage')])
        return outcome?.status === 'published'
      })
    } finally {
      client.disconnect()
      await server.stop()
    }
  })

  test('a consumer acks only after handle resolves: an entry whose handler never finished is claimed and handled again', async () => {
    const name = stream('acks')
    await redisBroker(redis).publish([message('a-1', name)])
    let started = 0
    const crashed = await consumeRedis(redis, {
      stream: name,
      group: 'readers',
      consumer: 'crashing',
      blockMs: 200,
      handle: () => {
        started++
        return new Promise(() => undefined)
      },
    })
    await waitFor('the first handler', 30_000, async () => started === 1)
    void crashed.stop() // its reading connection closes; the handler never finishes

    let failures = 0
    const errors: unknown[] = []
    const received: ReceivedMessage[] = []
    const consumer = await consumeRedis(redis, {
      stream: name,
      group: 'readers',
      consumer: 'reader-2',
      blockMs: 200,
      claimIdleMs: 300,
      onError: (error) => errors.push(error),
      handle: async (m) => {
        if (failures++ < 2) throw new Error('not yet')
        received.push(m)
      },
    })
    await waitFor('the claimed entry to succeed', 30_000, async () => received.length === 1)
    await consumer.stop()
    assert.equal(received[0]?.id, 'a-1')
    assert.equal(errors.length, 2, 'a rejected handle leaves the entry pending, claimed again')
    const pending = (await redis.xpending(name, 'readers')) as [number, ...unknown[]]
    assert.equal(pending[0], 0, 'acknowledged once handled')
  })
})
