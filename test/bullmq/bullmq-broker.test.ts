/**
 * `txkit/bullmq` on the local Redis, under a BullMQ prefix of this file's own (and a private
 * server to kill): publish and work (the job completes after handle), per-key order, deduplication
 * by job id, refused messages, a server that stops and comes back.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Queue, type Worker } from 'bullmq'
import { Redis } from 'ioredis'
import {
  brokerSkip,
  relayedMessage as message,
  randomName,
  startRedisServer,
} from '../../harness/brokers.js'
import { freePort } from '../../harness/free-port.js'
import { waitFor } from '../../harness/wait-for.js'
import { bullmqBroker, bullmqWorker } from '../../src/bullmq/bullmq.js'
import { isBrokerSetupError } from '../../src/index.js'
import type { ReceivedMessage } from '../../src/message/received-message.js'

const skip = await brokerSkip('Redis', 6379)

describe('txkit/bullmq', { skip }, () => {
  let redis: Redis
  let workerConnection: Redis
  const prefix = randomName('txkit-test')
  const closing: { close(): Promise<void> }[] = []

  function queue(name: string): Queue {
    const opened = new Queue(name, { connection: redis, prefix })
    closing.push(opened)
    return opened
  }

  function collect(name: string, workerOptions: Record<string, unknown> = {}) {
    const received: ReceivedMessage[] = []
    const worker: Worker = bullmqWorker(name, {
      connection: workerConnection,
      workerOptions: { prefix, ...workerOptions },
      handle: async (m) => {
        received.push(m)
      },
    })
    closing.push(worker)
    return { received, worker }
  }

  before(async () => {
    redis = new Redis({ host: '127.0.0.1', port: 6379 })
    workerConnection = new Redis({ host: '127.0.0.1', port: 6379, maxRetriesPerRequest: null })
  })
  after(async () => {
    for (const opened of closing) await opened.close().catch(() => undefined)
    const keys = await redis.keys(`${prefix}:*`)
    if (keys.length > 0) await redis.del(...keys)
    redis?.disconnect()
    workerConnection?.disconnect()
  })

  test('a published message reaches a worker with its id, headers, key, body and content type; the job completes', async () => {
    const broker = bullmqBroker({ connection: redis, prefix })
    assert.equal(broker.kind, 'bullmq')
    assert.equal(broker.maxMessageBytes, 16 * 1024 * 1024)
    await broker.start(['orders'])
    const sent = message('m-1', 'orders', { key: 'o-1', headers: { traceparent: '00-abc-def-01' } })
    assert.deepEqual(await broker.publish([sent]), [{ status: 'published' }])
    const job = await queue('orders').getJob('m-1')
    assert.equal(job?.name, 'order-events')
    const { received, worker } = collect('orders')
    await waitFor('the delivery', 30_000, async () => received.length === 1)
    assert.deepEqual(received[0], {
      id: 'm-1',
      destination: 'order-events',
      key: 'o-1',
      headers: { traceparent: '00-abc-def-01' },
      body: Buffer.from(JSON.stringify({ id: 'm-1' })),
      contentType: 'application/json',
    })
    await waitFor(
      'the job to complete',
      30_000,
      async () => (await queue('orders').getJob('m-1'))?.finishedOn !== undefined,
    )
    await worker.close()
    await broker.close()
  })

  test('start() refuses an unreachable Redis, naming the fix', async () => {
    const port = await freePort()
    const client = new Redis({
      host: '127.0.0.1',
      port,
      retryStrategy: () => null,
      lazyConnect: true,
    })
    client.on('error', () => undefined)
    const broker = bullmqBroker({ connection: client, prefix, timeoutMs: 2000 })
    await assert.rejects(broker.start(['orders']), (error: unknown) => {
      assert.ok(isBrokerSetupError(error))
      assert.match(error.message, /BullMQ queue "orders" is not reachable.*check the connection/)
      return true
    })
    await broker.close()
    client.disconnect()
    assert.throws(
      () => bullmqBroker({ connection: redis, jobOption: {} } as never),
      /did you mean "jobOptions"/,
    )
  })

  test('500 messages of one key arrive in order; a republished id adds no job', async () => {
    const broker = bullmqBroker({ connection: redis, prefix })
    const batch = Array.from({ length: 500 }, (_, i) => message(`k-${i}`, 'ordered', { key: 'k' }))
    const outcomes = await broker.publish(batch)
    assert.equal(outcomes.filter((o) => o.status === 'published').length, 500)
    assert.deepEqual(
      await broker.publish(batch.slice(0, 3)),
      Array(3).fill({ status: 'published' }),
    )
    assert.equal(await queue('ordered').getWaitingCount(), 500, 'deduplicated by job id')
    const { received, worker } = collect('ordered')
    await waitFor('500 deliveries', 120_000, async () => received.length === 500)
    await worker.close()
    assert.deepEqual(
      received.map((m) => m.id),
      batch.map((m) => m.id),
    )
    await broker.close()
  })

  test('a too large message and an integer id are refused with a reason; the rest is published', async () => {
    const broker = bullmqBroker({ connection: redis, prefix, maxMessageBytes: 200 })
    const outcomes = await broker.publish([
      message('r-1', 'mixed'),
      message('r-2', 'mixed', { body: Buffer.alloc(500), contentType: 'application/octet-stream' }),
      message('123', 'mixed'),
      message('r-4', 'mixed', {
        body: Buffer.from([0, 1, 2]),
        contentType: 'application/octet-stream',
      }),
    ])
    assert.deepEqual(outcomes[0], { status: 'published' })
    assert.match(
      (outcomes[1] as { reason: string }).reason,
      /larger than the broker's limit of 200 bytes/,
    )
    assert.deepEqual(outcomes[2], {
      status: 'refused',
      reason: 'BullMQ takes no integer job id such as "123"',
    })
    assert.deepEqual(outcomes[3], { status: 'published' })
    assert.equal(await queue('mixed').getWaitingCount(), 2)
    const { received, worker } = collect('mixed')
    await waitFor('2 deliveries', 30_000, async () => received.length === 2)
    await worker.close()
    assert.deepEqual(received[1]?.body, Buffer.from([0, 1, 2]), 'bytes travel as they are')
    await broker.close()
  })

  test('a server that stopped fails the batch; once restarted, publishing works again', async () => {
    const server = await startRedisServer()
    const client = new Redis({ host: '127.0.0.1', port: server.port, retryStrategy: () => 200 })
    client.on('error', () => undefined)
    const broker = bullmqBroker({ connection: client, timeoutMs: 2000 })
    try {
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
      await broker.close()
      client.disconnect()
      await server.stop()
    }
  })

  test('a job completes only after handle resolves: a job whose worker died first runs again', async () => {
    const broker = bullmqBroker({ connection: redis, prefix, jobOptions: { attempts: 5 } })
    await broker.publish([message('a-1', 'acks')])
    let started = 0
    const crashing = bullmqWorker('acks', {
      connection: workerConnection,
      workerOptions: { prefix, lockDuration: 1000 },
      handle: () => {
        started++
        return new Promise(() => undefined)
      },
    })
    await waitFor('the first handler', 30_000, async () => started === 1)
    await crashing.close(true)

    let failures = 0
    const received: ReceivedMessage[] = []
    const worker = bullmqWorker('acks', {
      connection: workerConnection,
      workerOptions: { prefix, stalledInterval: 500, lockDuration: 1000 },
      handle: async (m) => {
        if (failures++ < 2) throw new Error('not yet')
        received.push(m)
      },
    })
    closing.push(worker)
    await waitFor('the job to run again and succeed', 60_000, async () => received.length === 1)
    assert.equal(received[0]?.id, 'a-1')
    const job = await queue('acks').getJob('a-1')
    await waitFor('the job to complete', 30_000, async () => (await job?.isCompleted()) === true)
    assert.equal(job?.attemptsMade, 3, 'two failed attempts, retried by BullMQ, then the third')
    await worker.close()
    await broker.close()
  })
})
