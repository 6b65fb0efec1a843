/**
 * The outbox relay over PostgreSQL and MariaDB, with an in-memory broker: committed messages
 * published once each and in per-key order (three relays racing), rolled back ones never, failed
 * ones retried with backoff then dead-lettered, refused ones dead at once, replay, garbage
 * collection, the table check, and waking on a commit's notification (PostgreSQL).
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { describe } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  mariadbTarget,
  postgresTarget,
  type Target,
  targetTest,
} from '../../harness/commit-targets.js'
import { serversForFile } from '../../harness/file-servers.js'
import { type OutboxStoreDialect, outboxTables } from '../../src/dialect/outbox-store-dialect.js'
import {
  collectOutboxGarbage,
  createRelay,
  isBrokerSetupError,
  isConfigurationError,
  isTransactionRolledBackError,
  listOutbox,
  outboxCounts,
  replayOutbox,
} from '../../src/index.js'
import { eventually, FakeBroker, outbox, outboxDatabase, type Published } from './relay-support.js'

const servers = serversForFile()
const { fixture } = servers
const targets: Target[] = [postgresTarget(servers), mariadbTarget(servers)]

/** For each key, whether the publish order of its messages follows their sequence numbers. */
function perKeyOrder(log: readonly Published[], seqOf: ReadonlyMap<string, number | null>) {
  const last = new Map<string, number>()
  const broken: string[] = []
  for (const { id, key } of log) {
    if (key === null) continue
    const seq = seqOf.get(id) ?? 0
    if (seq <= (last.get(key) ?? 0)) broken.push(`${key}#${seq} after #${last.get(key)}`)
    last.set(key, seq)
  }
  return broken
}

function duplicates(log: readonly Published[]): string[] {
  const seen = new Set<string>()
  const twice: string[] = []
  for (const { id } of log) {
    if (seen.has(id)) twice.push(id)
    seen.add(id)
  }
  return twice
}

for (const target of targets) {
  const it = (title: string, body: () => Promise<void>) => targetTest(target, title, body)

  describe(`relay on ${target.name}`, () => {
    it('publishes committed messages once each, in key order; never a rolled back one', async () => {
      const m = await outboxDatabase(fixture, target)
      const ids = [
        ...(await m.send([
          { key: 'k1', payload: { n: 1 } },
          { key: 'k1', payload: { n: 2 } },
        ])),
        ...(await m.send([{ destination: 'audit' }, { key: 'k1', payload: { n: 3 } }])),
      ]
      await assert.rejects(
        m.coordinator.transaction({ m: m.db }, async (_branches, tx) => {
          tx.outbox.send('orders', { never: true }, { key: 'k1', id: 'rolled-back' })
          throw new Error('changed my mind')
        }),
      )
      const broker = new FakeBroker('one')
      const relay = createRelay({ databases: [m.db], outbox, brokers: { fake: broker } })
      const counts = await relay.runOnce()
      assert.deepEqual(counts, { claimed: 4, published: 4, failed: 0, deadLettered: 0, skipped: 0 })
      // Key k1 in its order; the message without a key in any.
      assert.deepEqual(
        broker.log.filter(({ key }) => key === 'k1').map(({ id }) => id),
        [ids[0], ids[1], ids[3]],
      )
      assert.deepEqual(new Set(broker.log.map(({ id }) => id)), new Set(ids))
      assert.deepEqual(Object.fromEntries(broker.log.map(({ id, address }) => [id, address])), {
        [ids[0] as string]: 'orders-exchange',
        [ids[1] as string]: 'orders-exchange',
        [ids[2] as string]: 'audit',
        [ids[3] as string]: 'orders-exchange',
      })
      assert.deepEqual(broker.started, [['orders-exchange', 'audit']], 'started with its addresses')
      assert.deepEqual(
        (await m.rows()).map(({ state }) => state),
        ['D', 'D', 'D', 'D'],
      )
      assert.deepEqual(await relay.runOnce(), {
        claimed: 0,
        published: 0,
        failed: 0,
        deadLettered: 0,
        skipped: 0,
      })
      assert.equal(broker.log.length, 4, 'nothing published twice')
      assert.equal(relay.metrics.published, 4)
      assert.ok((relay.metrics.lastLagMs ?? -1) >= 0)
      await relay.stop()
      assert.ok(broker.closed)
    })

    it('three relays racing on 2,000 messages over 50 keys: each published once, keys in order', async () => {
      const m = await outboxDatabase(fixture, target)
      const log: Published[] = []
      const relays = [1, 2, 3].map((n) =>
        createRelay({
          databases: [m.db],
          outbox,
          brokers: { fake: new FakeBroker(`relay-${n}`, log) },
          batchSize: 40,
          pollInterval: { min: 5, max: 50 },
        }),
      )
      for (const relay of relays) await relay.start()
      // 100 transactions of 20 messages, 4 at a time, while the relays run.
      const sent: string[] = []
      let next = 0
      let deadlocks = 0
      await Promise.all(
        [1, 2, 3, 4].map(async () => {
          while (next < 100) {
            const t = next++
            const batch = Array.from({ length: 20 }, (_, i) => ({
              key: `key-${(t * 7 + i * 13) % 50}`,
              payload: { t, i },
            }))
            // Writers sending several keys at once may deadlock on the key rows: retried, as
            // an application would.
            for (;;) {
              try {
                sent.push(...(await m.send(batch)))
                break
              } catch (error) {
                if (!isTransactionRolledBackError(error)) throw error
                deadlocks++
              }
            }
          }
        }),
      )
      await eventually(
        () => new Set(log.map(({ id }) => id)).size >= 2000,
        120_000,
        '2,000 published',
      )
      for (const relay of relays) await relay.stop()
      assert.equal(sent.length, 2000)
      if (deadlocks > 0) console.log(`# writers retried ${deadlocks} deadlocked transaction(s)`)
      const seqOf = new Map((await m.rows()).map((row) => [row.id, row.seq]))
      assert.deepEqual(duplicates(log), [], 'no message published twice')
      assert.deepEqual(perKeyOrder(log, seqOf), [], 'each key in sequence order')
      assert.deepEqual(new Set(log.map(({ id }) => id)), new Set(sent))
      const by = new Set(log.map((each) => each.by))
      assert.ok(by.size >= 2, `more than one relay published (${[...by].join(', ')})`)
      assert.equal((await outboxCounts(m.db)).pending, 0)
      assert.equal((await outboxCounts(m.db)).delivered, 2000)
    })

    it("a batch's marks never wait for another batch's open claim that skipped its rows", async () => {
      const m = await outboxDatabase(fixture, target)
      await m.send(Array.from({ length: 6 }, () => ({})))
      const store = m.db.dialect.outboxStore as OutboxStoreDialect
      const tables = outboxTables()
      const a = await m.db.acquire()
      const b = await m.db.acquire()
      try {
        await store.begin(a)
        await store.begin(b)
        // On MariaDB, left to the optimizer, a claim of up to 40 of these six rows read them
        // through the primary key and a claim of one through the state index: the second, finding
        // every row held, skipped them all but kept their index entries locked, which the first
        // one's marks rewrite. Two batches so locked each other deadlocked after publishing.
        const claimed = await store.claim(a, tables, 40)
        assert.equal(claimed.length, 6)
        assert.deepEqual(await store.claim(b, tables, 1), [])
        const positions = claimed.map(({ position }) => position)
        const marked = store.markPublished(a, tables, positions).then(() => 'marked')
        let timer: NodeJS.Timeout | undefined
        const waited = new Promise<string>((resolve) => {
          timer = setTimeout(() => resolve('waiting for the other claim'), 3000)
        })
        const verdict = await Promise.race([marked, waited])
        clearTimeout(timer)
        await store.commit(b)
        await marked
        await store.commit(a)
        assert.equal(verdict, 'marked')
        assert.equal((await outboxCounts(m.db)).delivered, 6)
      } finally {
        a.release(true)
        b.release(true)
      }
    })

    it('a failing message is retried after its backoff, then dead-lettered; its key waits for it', async () => {
      const m = await outboxDatabase(fixture, target)
      const [first, second] = await m.send([{ key: 'k' }, { key: 'k' }])
      const [free] = await m.send([{}])
      const broker = new FakeBroker('one')
      broker.fail.add(first as string)
      const relay = createRelay({
        databases: [m.db],
        outbox,
        brokers: { fake: broker },
        maxAttempts: 3,
        retryDelay: { initial: 1500, max: 1500 },
      })
      const one = await relay.runOnce()
      assert.equal(one.failed, 1)
      assert.equal(one.published, 1, 'the message without key goes')
      assert.deepEqual(
        broker.log.map(({ id }) => id),
        [free],
      )
      let rows = await m.rows()
      assert.equal(rows[0]?.attempts, 1)
      assert.equal(rows[0]?.lastError, 'timeout')
      assert.equal(rows[1]?.state, 'P', 'the second of its key waits')
      // Within the backoff the first is not claimed; the second is, and skipped: not its turn.
      const waiting = await relay.runOnce()
      assert.deepEqual([waiting.claimed, waiting.skipped, waiting.published], [1, 1, 0])
      await eventually(async () => (await relay.runOnce()).failed > 0, 30_000, 'the second try')
      rows = await m.rows()
      assert.equal(rows[0]?.attempts, 2)
      assert.equal(rows[0]?.state, 'P')
      await eventually(async () => (await relay.runOnce()).deadLettered > 0, 30_000, 'the last try')
      rows = await m.rows()
      assert.equal(rows[0]?.state, 'X')
      assert.match(rows[0]?.lastError ?? '', /failed 3 times; last error: timeout/)
      // Once dead, the key moves on.
      await eventually(async () => (await relay.runOnce()).published > 0, 30_000, 'the second')
      assert.deepEqual(
        broker.log.map(({ id }) => id),
        [free, second],
      )
      assert.equal(relay.metrics.deadLettered, 1)
      const dead = await listOutbox(m.db, { state: 'dead' })
      assert.deepEqual(
        dead.map(({ id }) => id),
        [first],
      )
      // Replay: pending again, tries reset, published by the next pass.
      broker.fail.clear()
      assert.equal(await replayOutbox(m.db, { ids: [first as string] }), 1)
      assert.equal((await m.rows())[0]?.attempts, 0)
      assert.equal((await relay.runOnce()).published, 1)
      assert.deepEqual(
        broker.log.map(({ id }) => id),
        [free, second, first],
      )
      await relay.stop()
    })

    it('a full batch of one waiting key does not hide other keys behind it', async () => {
      const m = await outboxDatabase(fixture, target)
      const [first] = await m.send([{ key: 'k' }])
      await m.send([{ key: 'k' }, { key: 'k' }, { key: 'k' }, { key: 'k' }])
      const [other] = await m.send([{ key: 'other' }])
      const broker = new FakeBroker('one')
      broker.fail.add(first as string)
      const relay = createRelay({
        databases: [m.db],
        outbox,
        brokers: { fake: broker },
        batchSize: 3,
        retryDelay: { initial: 600_000 },
      })
      assert.equal((await relay.runOnce()).failed, 1)
      const counts = await relay.runOnce()
      assert.equal(counts.published, 1, 'claimed once more past the waiting key')
      assert.deepEqual(
        broker.log.map(({ id }) => id),
        [other],
      )
      await relay.stop()
    })

    it('refused, unknown destination and too large are dead-lettered at once; the rest go', async () => {
      const m = await outboxDatabase(fixture, target, 'm', {
        destinations: { ...outbox.destinations, gone: { broker: 'fake' } },
      })
      const [refused, , , unknown] = await m.send([
        { key: 'a' },
        { key: 'a' },
        { key: 'b' },
        { destination: 'gone' },
        { payload: 'x'.repeat(3000) },
      ])
      const broker = new FakeBroker('one', [], 2000)
      broker.refuse.add(refused as string)
      const relay = createRelay({ databases: [m.db], outbox, brokers: { fake: broker } })
      const counts = await relay.runOnce()
      assert.equal(counts.deadLettered, 3)
      assert.equal(counts.published, 1, 'b goes; a#2 waits for the next round')
      const rows = await m.rows()
      assert.deepEqual(
        rows.map(({ state }) => state),
        ['X', 'P', 'D', 'X', 'X'],
      )
      assert.match(rows[0]?.lastError ?? '', /refused by broker "fake": no route to queue/)
      assert.match(rows[3]?.lastError ?? '', /destination "gone" is not in the relay's outbox/)
      assert.match(rows[4]?.lastError ?? '', /more than broker "fake" takes \(2000\)/)
      assert.equal((await relay.runOnce()).published, 1, 'a#2 next')
      assert.equal(broker.log.length, 2)
      assert.equal((await listOutbox(m.db, { id: unknown as string }))[0]?.state, 'dead')
      await relay.stop()
    })

    it('a broker that is down fails every message: all retried later, none lost', async () => {
      const m = await outboxDatabase(fixture, target)
      await m.send([{ key: 'k' }, { key: 'k' }, {}])
      const broker = new FakeBroker('one')
      broker.down = true
      const relay = createRelay({
        databases: [m.db],
        outbox,
        brokers: { fake: broker },
        retryDelay: { initial: 200, max: 400 },
        pollInterval: { min: 10, max: 20 },
      })
      await relay.start()
      await eventually(() => relay.metrics.failed >= 4, 30_000, 'failed tries')
      const callsWhileDown = broker.publishCalls
      broker.down = false
      await eventually(() => broker.log.length === 3, 30_000, 'published once up')
      await relay.stop()
      assert.ok(callsWhileDown < 40, `the loop backs off (${callsWhileDown} publishes while down)`)
      assert.deepEqual(
        (await m.rows()).map(({ state }) => state),
        ['D', 'D', 'D'],
      )
    })

    it('a relay killed mid-batch leaves its messages pending: the next relay publishes them all', async () => {
      const m = await outboxDatabase(fixture, target)
      const ids = await m.send([{ key: 'k' }, { key: 'k' }, {}, { destination: 'audit' }])
      const child = spawn(
        process.execPath,
        [
          fileURLToPath(new URL('./relay-child.js', import.meta.url)),
          m.url,
          target.name === 'PostgreSQL' ? 'postgres' : 'mysql',
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      let output = ''
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString()
      })
      const exited = new Promise((resolve) => child.on('exit', resolve))
      await eventually(() => output.includes('blocked'), 60_000, 'the child relay to block')
      // Its batch holds every message, locked, while the broker does not answer.
      const waiting = createRelay({
        databases: [m.db],
        outbox,
        brokers: { fake: new FakeBroker('w') },
      })
      assert.equal((await waiting.runOnce()).claimed, 0, 'the rows are held by the child')
      child.kill('SIGKILL')
      await exited
      assert.ok(!output.includes('never'))
      assert.deepEqual(
        (await m.rows()).map(({ state, attempts }) => [state, attempts]),
        [
          ['P', 0],
          ['P', 0],
          ['P', 0],
          ['P', 0],
        ],
        'rolled back with the session',
      )
      const broker = new FakeBroker('after')
      const relay = createRelay({ databases: [m.db], outbox, brokers: { fake: broker } })
      await eventually(
        async () => {
          await relay.runOnce()
          return broker.log.length === 4
        },
        60_000,
        'every message published after the kill',
      )
      assert.deepEqual(new Set(broker.log.map(({ id }) => id)), new Set(ids))
      await relay.stop()
      await waiting.stop()
    })

    it('garbage collection deletes delivered messages and idle keys past retention', async () => {
      const m = await outboxDatabase(fixture, target)
      await m.send([{ key: 'k' }, {}])
      const broker = new FakeBroker('one')
      const relay = createRelay({ databases: [m.db], outbox, brokers: { fake: broker } })
      await relay.runOnce()
      await m.send([{ key: 'pending-key' }])
      assert.deepEqual(await collectOutboxGarbage(m.db, { retention: 3600_000 }), {
        deleted: 0,
        keysDeleted: 0,
      })
      await new Promise((resolve) => setTimeout(resolve, 20))
      // Keys have rows (to delete once idle) only where the database numbers them in a table.
      const keyRows = m.db.dialect.outbox?.keyTable === true
      assert.deepEqual(await collectOutboxGarbage(m.db, { retention: 1, batchSize: 1 }), {
        deleted: 2,
        keysDeleted: keyRows ? 1 : 0,
      })
      const rows = await m.rows()
      assert.deepEqual(
        rows.map(({ state, key }) => [state, key]),
        [['P', 'pending-key']],
      )
      if (keyRows) {
        const keys = await m.query('SELECT message_key FROM txkit_outbox_key')
        assert.deepEqual(
          keys.map((row) => row.message_key),
          ['pending-key'],
        )
      }
      await relay.stop()
    })

    it('start() refuses a missing or wrong outbox table, and unknown options', async () => {
      const bare = await target.database('bare')
      const broker = new FakeBroker('one')
      const relay = createRelay({ databases: [bare.db], outbox, brokers: { fake: broker } })
      const keyTable = bare.db.dialect.outbox?.keyTable === true
      await assert.rejects(relay.start(), (error) => {
        assert.ok(isBrokerSetupError(error))
        assert.match(
          error.message,
          keyTable ? /missing txkit_outbox, txkit_outbox_key/ : /missing txkit_outbox\. Create/,
        )
        return true
      })
      await bare.query('CREATE TABLE txkit_outbox (position bigint, id varchar(10))')
      await assert.rejects(
        relay.runOnce(),
        keyTable
          ? /missing txkit_outbox\.destination, .*txkit_outbox_key/
          : /missing txkit_outbox\.destination, /,
      )
      assert.throws(
        () =>
          createRelay({
            databases: [bare.db],
            outbox,
            brokers: { fake: broker },
            batchsize: 3,
          } as never),
        (error) => isConfigurationError(error) && /did you mean "batchSize"/.test(error.message),
      )
      assert.throws(
        () => createRelay({ databases: [bare.db], outbox, brokers: {} }),
        /broker "fake", which createRelay\(\) is not given/,
      )
    })

    if (target.name === 'PostgreSQL') {
      it('a commit wakes the relay at once through its notification, and again after LISTEN is lost', async () => {
        const m = await outboxDatabase(fixture, target)
        const broker = new FakeBroker('one')
        const relay = createRelay({
          databases: [m.db],
          outbox,
          brokers: { fake: broker },
          pollInterval: { min: 600_000, max: 600_000 },
        })
        await relay.start()
        await eventually(() => relay.metrics.listening === 1, 30_000, 'LISTEN')
        // The first pass (at start) and the catch-up pass after LISTEN found nothing.
        await eventually(() => relay.metrics.batches >= 1, 30_000, 'the first pass')
        const [id] = await m.send([{ key: 'wake' }])
        await eventually(() => broker.log.length === 1, 60_000, 'published (the poll is 10 min)')
        assert.equal(broker.log[0]?.id, id)
        assert.ok(relay.metrics.notifications >= 1)
        assert.ok(relay.metrics.notifiedPasses >= 1, 'a notification started the pass')
        // The LISTEN session is killed: the relay listens again and is woken again.
        await m.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`,
        )
        const notifiedBefore = relay.metrics.notifications
        await eventually(
          async () => {
            await m.send([{}])
            await new Promise((resolve) => setTimeout(resolve, 300))
            return relay.metrics.notifications > notifiedBefore
          },
          60_000,
          'a notification after the LISTEN session was killed',
        )
        await eventually(() => broker.log.length >= 2, 30_000, 'published after reconnecting')
        await relay.stop()
        assert.equal(relay.metrics.listening, 0)
      })
    }
  })
}
