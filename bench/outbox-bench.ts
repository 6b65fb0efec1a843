/**
 * The outbox benchmarks (issue 25): what `tx.outbox.send` costs a transaction, how soon the relay
 * publishes after a commit compared with a polling relay, how fast it drains into RabbitMQ
 * compared with publishing directly, and its memory and rate on a 100,000-message backlog.
 */
import { writeFileSync } from 'node:fs'
import pg from 'pg'
import { PostgresServer } from '../harness/postgres-server.js'
import { type Coordinator, createCoordinator, createOutboxTables } from '../src/index.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { createBenchTables } from './bench-table.js'
import { runBacklogBench } from './outbox-backlog.js'
import { FakeBroker, PollingRelay, truncateOutbox } from './outbox-fakes.js'
import { runRabbitBench } from './outbox-rabbit.js'
import { benchOutbox, startRelay } from './outbox-relay-adapter.js'
import { alternate, quantile, type Spread, showSpread, sleep } from './outbox-rounds.js'
import { measure } from './stats.js'

export interface OutboxBenchOptions {
  /** Alternating rounds of every comparison (at least 5). */
  readonly rounds: number
  /** Seconds of each throughput block (key 1). */
  readonly seconds: number
  /** Transactions per latency round (key 2), one at a time. */
  readonly latencyTransactions: number
  /** Messages drained into RabbitMQ per round (key 3). */
  readonly rabbitMessages: number
  /** The large backlog (key 4; the small one is a tenth). */
  readonly backlog: number
  /** Which of the four measurements to run (default all): 1 throughput, 2 latency, 3 RabbitMQ, 4 backlog. */
  readonly keys?: readonly number[]
  readonly output: string
}

type Log = (line: string) => void

interface Setup {
  readonly pools: pg.Pool[]
  readonly coordinator: Coordinator
  /** `message`: one `tx.outbox.send`; `row`: one hand-written insert of an id and a body instead. */
  readonly run: (what: 'message' | 'none' | 'row') => Promise<string | undefined>
}

let counter = 0

/** Two databases, the decision log on the first, each transaction inserting a row in both. */
async function setUp(servers: readonly PostgresServer[]): Promise<Setup> {
  const pools = servers.map((server) => {
    const pool = new pg.Pool({ connectionString: server.url(), max: 24 })
    pool.on('error', () => {})
    return pool
  })
  const databases = pools.map((pool, index) => pgDatabase(pool, { name: `db${index}` }))
  const [first, second] = databases
  if (first === undefined || second === undefined) throw new Error('two databases expected')
  const coordinator = createCoordinator({
    prefix: 'bench',
    decisionLog: first,
    outbox: benchOutbox(),
  })
  await coordinator.createDecisionLog()
  for (const database of databases) await createOutboxTables(database)
  await pools[0]?.query('CREATE TABLE bench_row (id text PRIMARY KEY, body bytea NOT NULL)')
  const run = (what: 'message' | 'none' | 'row') =>
    coordinator.transaction({ db0: first, db1: second }, async (branches, tx) => {
      const n = ++counter
      await Promise.all([
        branches.db0.query('INSERT INTO bench (note) VALUES ($1)', ['ob']),
        branches.db1.query('INSERT INTO bench (note) VALUES ($1)', ['ob']),
      ])
      const payload = { type: 'order-placed', order: n, total: 12.5 }
      if (what === 'row') {
        // The least any outbox writes: a row with a unique id and the body, in the same database.
        await branches.db0.query('INSERT INTO bench_row (id, body) VALUES ($1, $2)', [
          `order-${n}`,
          Buffer.from(JSON.stringify(payload)),
        ])
      }
      if (what !== 'message') return undefined
      return tx.outbox.send('events', payload, { key: `order-${n % 4096}` })
    })
  return { pools, coordinator, run }
}

/** Key 1: transactions sending one message each against the same without, 16 at a time. */
async function throughput(setup: Setup, options: OutboxBenchOptions, log: Log) {
  const [first] = setup.pools
  if (first === undefined) throw new Error('no pool')
  const block = (what: 'message' | 'none' | 'row') => async () => {
    await truncateOutbox(first)
    await first.query('TRUNCATE bench_row')
    const summary = await measure(() => setup.run(what).then(() => undefined), {
      seconds: options.seconds,
      warmup: 0.3,
      concurrency: 16,
    })
    return summary.perSecond
  }
  // One untimed block of each first: connections, prepared statements, JIT.
  await block('message')()
  await block('none')()
  await block('row')()
  const result = await alternate(options.rounds, block('message'), block('none'), (round, a, b) =>
    log(`  round ${round + 1}: with a message ${a.toFixed(0)} tx/s, without ${b.toFixed(0)} tx/s`),
  )
  // What the floor is: the same transactions writing a minimal row of their own instead.
  const row = await alternate(options.rounds, block('row'), block('none'), (round, a, b) =>
    log(
      `  round ${round + 1}: with a hand-written row ${a.toFixed(0)} tx/s, without ${b.toFixed(0)} tx/s`,
    ),
  )
  await truncateOutbox(first)
  return { ...result, row }
}

/**
 * Key 2: commit acknowledgement → publish, one transaction at a time every 10–50 ms (random, so
 * as not to beat in step with a poll), through txkit's relay (woken by NOTIFY) and a relay polling
 * every 100 ms, both publishing to one in-memory broker. A message published before its
 * transaction's acknowledgement counts 0 ms.
 */
async function commitToPublish(setup: Setup, options: OutboxBenchOptions, log: Log) {
  const [first] = setup.pools
  if (first === undefined) throw new Error('no pool')
  const database = pgDatabase(first, { name: 'relay' })
  const broker = new FakeBroker()
  let early = 0
  const latencies = { relay: [] as number[], polling: [] as number[] }
  const signed: number[] = []
  const round = (which: 'relay' | 'polling') => async () => {
    await truncateOutbox(first)
    broker.reset()
    const relay =
      which === 'relay' ? await startRelay(database, broker) : new PollingRelay(first, broker)
    // Let the relay settle (LISTEN answered, first idle pass done).
    await sleep(300)
    const acked = new Map<string, number>()
    for (let i = 0; i < options.latencyTransactions; i++) {
      const id = await setup.run('message')
      if (id !== undefined) acked.set(id, performance.now())
      await sleep(10 + Math.random() * 40)
    }
    await Promise.race([broker.until(acked.size), sleep(5000)])
    await relay.stop()
    const each: number[] = []
    for (const [id, at] of acked) {
      const published = broker.publishedAt.get(id)
      if (published === undefined) throw new Error(`${which}: message ${id} was not published`)
      if (published < at) early++
      if (which === 'relay') signed.push(published - at)
      each.push(Math.max(0, published - at))
    }
    latencies[which].push(...each)
    return quantile(each, 0.5)
  }
  const result = await alternate(options.rounds, round('relay'), round('polling'), (r, a, b) =>
    log(`  round ${r + 1}: p50 relay ${a.toFixed(2)} ms, polling ${b.toFixed(2)} ms`),
  )
  await truncateOutbox(first)
  return {
    ...result,
    p99: {
      relay: Math.round(quantile(latencies.relay, 0.99) * 100) / 100,
      polling: Math.round(quantile(latencies.polling, 0.99) * 100) / 100,
    },
    publishedBeforeAcknowledgement: early,
    relaySignedP50: Math.round(quantile(signed, 0.5) * 100) / 100,
  }
}

const pair = (spread: Spread) => ({ value: spread.median, spread: [spread.min, spread.max] })

/** Every outbox benchmark; writes `output`. */
export async function runOutboxBench(
  options: OutboxBenchOptions,
): Promise<Record<string, unknown>> {
  const log: Log = (line) => process.stdout.write(`${line}\n`)
  log(
    `\n## Outbox (PostgreSQL, fsync on; ${options.rounds} alternating rounds of each comparison)\n`,
  )
  const servers = await Promise.all(
    [1, 2].map(() => PostgresServer.start({ durable: true, maxConnections: 200 })),
  )
  const want = (key: number) => options.keys === undefined || options.keys.includes(key)
  const keys: Record<string, unknown> = {}
  const details: Record<string, unknown> = {}
  try {
    await createBenchTables(servers)
    const setup = await setUp(servers)
    try {
      if (want(1)) {
        log(`Key 1: two databases, 16 at a time, ${options.seconds} s blocks`)
        const one = await throughput(setup, options, log)
        keys.outbox_transaction_throughput_vs_without = pair(one.ratio)
        details.throughput_tx_per_s = { with_message: one.a, without: one.b }
        details.hand_written_row_vs_without = {
          ...pair(one.row.ratio),
          with_row: one.row.a,
          without: one.row.b,
        }
        log(`outbox_transaction_throughput_vs_without: ${showSpread(one.ratio)}`)
        log(`  (a hand-written id + body row instead: ${showSpread(one.row.ratio)})`)
      }
      if (want(2)) {
        log(`\nKey 2: ${options.latencyTransactions} transactions per round, one at a time`)
        const two = await commitToPublish(setup, options, log)
        keys.outbox_commit_to_publish_p50_vs_polling_relay = pair(two.ratio)
        details.commit_to_publish_ms = {
          relay_p50: two.a,
          polling_p50: two.b,
          p99_all_rounds: two.p99,
          published_before_acknowledgement: two.publishedBeforeAcknowledgement,
          relay_p50_unclamped_all_rounds: two.relaySignedP50,
        }
        log(`outbox_commit_to_publish_p50_vs_polling_relay: ${showSpread(two.ratio)}`)
      }
    } finally {
      await setup.coordinator.close()
      await Promise.all(setup.pools.map((pool) => pool.end()))
    }

    const [server] = servers
    if (server === undefined) throw new Error('no server')
    if (want(3)) {
      log(`\nKey 3: ${options.rabbitMessages} messages into RabbitMQ per round, publisher confirms`)
      const three = await runRabbitBench(server.url(), options.rabbitMessages, options.rounds, log)
      if (three.skipped !== undefined) {
        keys.outbox_relay_vs_direct_publish_rate = { skipped: three.skipped }
      } else {
        keys.outbox_relay_vs_direct_publish_rate = pair(three.ratio)
        details.rabbitmq_messages_per_s = { relay: three.a, direct: three.b }
        log(`outbox_relay_vs_direct_publish_rate: ${showSpread(three.ratio)}`)
      }
    }
    if (want(4)) {
      log(
        `\nKey 4: a relay process on ${options.backlog} and ${options.backlog / 10} pending messages`,
      )
      const four = await runBacklogBench(server.url(), options.backlog, options.rounds, log)
      keys.outbox_relay_100k_backlog_peak_rss_mb = pair(four.peakRssMb)
      keys.outbox_relay_100k_vs_10k_drain_rate = pair(four.ratio)
      details.backlog = four.details
      log(`outbox_relay_100k_backlog_peak_rss_mb: ${showSpread(four.peakRssMb, 1)}`)
      log(`outbox_relay_100k_vs_10k_drain_rate: ${showSpread(four.ratio)}`)
    }
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
  const summary = {
    ...keys,
    targets: {
      outbox_transaction_throughput_vs_without: '>= 0.85',
      outbox_commit_to_publish_p50_vs_polling_relay: '<= 0.1',
      outbox_relay_vs_direct_publish_rate: '>= 0.8',
      outbox_relay_100k_backlog_peak_rss_mb: '<= 256',
    },
    details,
    settings: { ...options, node: process.version },
  }
  writeFileSync(options.output, `${JSON.stringify(summary, null, 2)}\n`)
  log(`\nWrote ${options.output}`)
  return summary
}
