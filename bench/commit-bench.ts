import { writeFileSync } from 'node:fs'
import pg from 'pg'
import postgres from 'postgres'
import { LatencyProxy } from '../harness/latency-proxy.js'
import { PostgresServer } from '../harness/postgres-server.js'
import { type Coordinator, createCoordinator, type Database } from '../src/index.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { postgresJsDatabase } from '../src/postgres/postgres-js.js'
import { startSpan } from '../src/tracing/span.js'
import { createBenchTables } from './bench-table.js'
import { descendantsCpuSeconds, type LatencySummary, measure, ratio } from './stats.js'

export interface CommitBenchOptions {
  readonly seconds: number
  readonly warmup: number
  readonly latencyMs: number
  readonly heapTransactions: number
  readonly output: string
}

type Mode =
  | 'handwritten'
  | 'decision'
  | 'decision-ack'
  | 'decision-postgres-js'
  | 'decision-ack-postgres-js'
  | 'parallel'
  | 'sequential'
  | 'non-atomic'
const MODES: readonly Mode[] = [
  'handwritten',
  'decision',
  'decision-ack',
  'decision-postgres-js',
  'decision-ack-postgres-js',
  'parallel',
  'sequential',
  'non-atomic',
]

interface Target {
  readonly pools: pg.Pool[]
  readonly databases: Database[]
  readonly decision: Coordinator
  /** `acknowledge: 'decision'`: returns at the decision, commits prepared branches in the background. */
  readonly acknowledging: Coordinator
  /** The parallel protocol, acknowledged at its commit point (staged and every branch prepared). */
  readonly parallel: Coordinator
  readonly sequential: Coordinator
  /** The same databases through postgres.js, whose branches pipeline BEGIN with the first statement. */
  readonly sqls: postgres.Sql[]
  readonly jsDatabases: Database[]
  readonly jsDecision: Coordinator
  readonly jsAcknowledging: Coordinator
}

let counter = 0

/** (a) Two-phase commit written by hand with pg: prepares in parallel, commits in parallel. */
async function handwritten(pools: readonly pg.Pool[]): Promise<void> {
  const id = `hw${++counter}${Math.random().toString(36).slice(2, 8)}`
  const clients = await Promise.all(pools.map((pool) => pool.connect()))
  try {
    await Promise.all(
      clients.map(async (client, index) => {
        await client.query('BEGIN')
        await client.query('INSERT INTO bench (note) VALUES ($1)', [id])
        const tag = await client.query(`PREPARE TRANSACTION '${id}_${index}'`)
        if (tag.command !== 'PREPARE') throw new Error('not prepared')
      }),
    )
    await Promise.all(
      clients.map((client, index) => client.query(`COMMIT PREPARED '${id}_${index}'`)),
    )
  } finally {
    for (const client of clients) client.release()
  }
}

/** (d) One local transaction per database, committed independently: fast and not atomic. */
async function nonAtomic(pools: readonly pg.Pool[]): Promise<void> {
  const clients = await Promise.all(pools.map((pool) => pool.connect()))
  try {
    await Promise.all(
      clients.map(async (client) => {
        await client.query('BEGIN')
        await client.query('INSERT INTO bench (note) VALUES ($1)', ['na'])
        await client.query('COMMIT')
      }),
    )
  } finally {
    for (const client of clients) client.release()
  }
}

function viaTxkit(coordinator: Coordinator, databases: readonly Database[]): () => Promise<void> {
  const record: Record<string, Database> = {}
  databases.forEach((database, index) => {
    record[`db${index}`] = database
  })
  return () =>
    coordinator.transaction(record, async (branches) => {
      await Promise.all(
        Object.values(branches).map((branch) =>
          branch.query('INSERT INTO bench (note) VALUES ($1)', ['tx']),
        ),
      )
    })
}

function run(mode: Mode, target: Target): () => Promise<void> {
  switch (mode) {
    case 'handwritten':
      return () => handwritten(target.pools)
    case 'non-atomic':
      return () => nonAtomic(target.pools)
    case 'decision':
      return viaTxkit(target.decision, target.databases)
    case 'decision-ack':
      return viaTxkit(target.acknowledging, target.databases)
    case 'decision-postgres-js':
      return viaTxkit(target.jsDecision, target.jsDatabases)
    case 'decision-ack-postgres-js':
      return viaTxkit(target.jsAcknowledging, target.jsDatabases)
    case 'parallel':
      return viaTxkit(target.parallel, target.databases)
    case 'sequential':
      return viaTxkit(target.sequential, target.databases)
  }
}

async function makeTarget(ports: readonly number[], n: number): Promise<Target> {
  const pools = ports.slice(0, n).map((port) => {
    const pool = new pg.Pool({
      connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
      max: 24,
    })
    pool.on('error', () => {})
    return pool
  })
  const databases = pools.map((pool, index) => pgDatabase(pool, { name: `db${index}` }))
  const sqls = ports
    .slice(0, n)
    .map((port) => postgres(`postgres://postgres@127.0.0.1:${port}/postgres`, { max: 24 }))
  const jsDatabases = sqls.map((sql, index) => postgresJsDatabase(sql, { name: `db${index}` }))
  const [first] = databases
  const [jsFirst] = jsDatabases
  if (first === undefined || jsFirst === undefined) throw new Error('no database')
  return {
    pools,
    databases,
    decision: createCoordinator({ prefix: 'bench', decisionLog: first }),
    acknowledging: createCoordinator({
      prefix: 'bench',
      decisionLog: first,
      acknowledge: 'decision',
    }),
    parallel: createCoordinator({
      prefix: 'bench',
      decisionLog: first,
      protocol: 'parallel',
      acknowledge: 'decision',
    }),
    sequential: createCoordinator({ prefix: 'bench', protocol: 'sequential' }),
    sqls,
    jsDatabases,
    jsDecision: createCoordinator({ prefix: 'bench', decisionLog: jsFirst }),
    jsAcknowledging: createCoordinator({
      prefix: 'bench',
      decisionLog: jsFirst,
      acknowledge: 'decision',
    }),
  }
}

async function closeTarget(target: Target): Promise<void> {
  await target.decision.close()
  await target.acknowledging.close()
  await target.parallel.close()
  await target.jsDecision.close()
  await target.jsAcknowledging.close()
  await Promise.all(target.pools.map((pool) => pool.end()))
  await Promise.all(target.sqls.map((sql) => sql.end({ timeout: 5 })))
}

/** Round trips per transaction of `mode`, through `proxies`, 100 transactions one at a time. */
async function countRoundTrips(
  mode: Mode,
  target: Target,
  proxies: readonly LatencyProxy[],
): Promise<number> {
  const settle = () =>
    Promise.all(
      [
        target.decision,
        target.acknowledging,
        target.parallel,
        target.jsDecision,
        target.jsAcknowledging,
      ].map((coordinator) => coordinator.close()),
    )
  const total = () => proxies.reduce((sum, proxy) => sum + proxy.roundTrips, 0)
  await settle()
  const once = run(mode, target)
  const before = total()
  for (let i = 0; i < 100; i++) await once()
  // Background commits and the decision rows' deletion count too.
  await settle()
  return Math.round((total() - before) / 10) / 10
}

function heapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  gc?.()
  return process.memoryUsage().heapUsed / 1024 / 1024
}

/**
 * Atomic commit benchmark: hand-written 2PC vs txkit decision vs txkit sequential vs non-atomic,
 * on 2 and 3 PostgreSQL servers (fsync on), direct and through a latency proxy, at concurrency 1
 * and 16. Writes `output` with the ratios the issue tracks.
 */
export async function runCommitBench(
  options: CommitBenchOptions,
): Promise<Record<string, unknown>> {
  const log = (line: string) => process.stdout.write(`${line}\n`)
  log(
    `\n## Atomic commit (PostgreSQL, fsync on; ${options.seconds}s per cell, proxy ${options.latencyMs} ms each way)\n`,
  )
  const servers = await Promise.all(
    [1, 2, 3].map(() => PostgresServer.start({ durable: true, maxConnections: 300 })),
  )
  const proxies = await Promise.all(
    servers.map((server) => LatencyProxy.start(server.port, options.latencyMs)),
  )
  const results: Array<
    {
      mode: Mode
      n: number
      proxy: boolean
      concurrency: number
      /** Through the proxy, one at a time: round trips per transaction, background work included. */
      roundTrips?: number
      /** Direct, 16 at a time: CPU µs per transaction of Node and of the PostgreSQL servers. */
      cpu?: { node: number; postgres: number }
    } & LatencySummary
  > = []
  try {
    await createBenchTables(servers)
    const all = await makeTarget(
      servers.map((server) => server.port),
      servers.length,
    )
    await all.decision.createDecisionLog()
    for (const database of all.databases) await all.parallel.createFenceTable(database)
    await closeTarget(all)

    log(
      '| mode | N | proxy | concurrency | tx/s | p50 ms | p99 ms | round trips | CPU µs/tx Node / PostgreSQL |',
    )
    log('|---|---|---|---|---|---|---|---|---|')
    for (const proxy of [false, true]) {
      const ports = proxy ? proxies.map((p) => p.port) : servers.map((server) => server.port)
      for (const n of [2, 3]) {
        const target = await makeTarget(ports, n)
        for (const concurrency of [1, 16]) {
          for (const mode of MODES) {
            // One at a time through the proxy, a cell holds few transactions: three times as long
            // gives its p99 more than a couple of samples to stand on.
            const seconds = proxy && concurrency === 1 ? options.seconds * 3 : options.seconds
            const cpuMeasured = !proxy && concurrency === 16
            const once = run(mode, target)
            let calls = 0
            const nodeBefore = process.cpuUsage()
            const serversBefore = cpuMeasured ? descendantsCpuSeconds() : 0
            const summary = await measure(
              cpuMeasured
                ? async () => {
                    await once()
                    calls++
                  }
                : once,
              { ...options, seconds, concurrency },
            )
            const nodeUsed = process.cpuUsage(nodeBefore)
            const cpu = cpuMeasured
              ? {
                  node: Math.round((nodeUsed.user + nodeUsed.system) / calls),
                  postgres: Math.round(((descendantsCpuSeconds() - serversBefore) * 1e6) / calls),
                }
              : undefined
            const roundTrips =
              proxy && concurrency === 1 ? await countRoundTrips(mode, target, proxies) : undefined
            results.push({
              mode,
              n,
              proxy,
              concurrency,
              ...summary,
              ...(roundTrips && { roundTrips }),
              ...(cpu && { cpu }),
            })
            log(
              `| ${mode} | ${n} | ${proxy ? 'yes' : 'no'} | ${concurrency} | ${summary.perSecond.toFixed(0)} | ${summary.p50.toFixed(2)} | ${summary.p99.toFixed(2)} | ${roundTrips ?? ''} | ${cpu ? `${cpu.node} / ${cpu.postgres}` : ''} |`,
            )
          }
        }
        await closeTarget(target)
      }
    }

    const direct = await makeTarget(
      servers.map((server) => server.port),
      2,
    )
    const once = run('decision', direct)
    const batch = async (count: number) => {
      let next = 0
      await Promise.all(
        Array.from({ length: 16 }, async () => {
          while (next++ < count) await once()
        }),
      )
    }
    await batch(1000)
    const heapBefore = heapMb()
    await batch(options.heapTransactions)
    await direct.decision.close()
    const heapAfter = heapMb()
    await closeTarget(direct)
    const heapGrowth = Math.round((heapAfter - heapBefore) * 100) / 100
    log(
      `\nHeap growth over ${options.heapTransactions} transactions after warm-up: ${heapGrowth} MB`,
    )

    const tracingCost = spanCostPerTransactionUs()
    log(
      `Spans of one transaction with @opentelemetry/api installed and no tracer provider: ${tracingCost} µs`,
    )

    const find = (mode: Mode, n: number, proxy: boolean, concurrency: number) => {
      const found = results.find(
        (r) => r.mode === mode && r.n === n && r.proxy === proxy && r.concurrency === concurrency,
      )
      if (found === undefined) throw new Error('missing cell')
      return found
    }
    const roundTripsOf = (n: number) =>
      Object.fromEntries(MODES.map((mode) => [mode, find(mode, n, true, 1).roundTrips]))
    const summary = {
      decision_ack_vs_handwritten_p50_latency_n2_proxy: ratio(
        find('decision-ack', 2, true, 1).p50,
        find('handwritten', 2, true, 1).p50,
      ),
      decision_ack_vs_sequential_p50_latency_n3_proxy: ratio(
        find('decision-ack', 3, true, 1).p50,
        find('sequential', 3, true, 1).p50,
      ),
      decision_ack_vs_handwritten_throughput_n2_c16: ratio(
        find('decision-ack', 2, false, 16).perSecond,
        find('handwritten', 2, false, 16).perSecond,
      ),
      decision_ack_vs_handwritten_p99_latency_n2_proxy: ratio(
        find('decision-ack', 2, true, 1).p99,
        find('handwritten', 2, true, 1).p99,
      ),
      parallel_vs_sequential_p50_latency_n3_proxy: ratio(
        find('parallel', 3, true, 1).p50,
        find('sequential', 3, true, 1).p50,
      ),
      parallel_vs_handwritten_p50_latency_n2_proxy: ratio(
        find('parallel', 2, true, 1).p50,
        find('handwritten', 2, true, 1).p50,
      ),
      parallel_vs_handwritten_throughput_n2_c16: ratio(
        find('parallel', 2, false, 16).perSecond,
        find('handwritten', 2, false, 16).perSecond,
      ),
      decision_ack_postgres_js_vs_handwritten_p50_latency_n2_proxy: ratio(
        find('decision-ack-postgres-js', 2, true, 1).p50,
        find('handwritten', 2, true, 1).p50,
      ),
      decision_ack_postgres_js_vs_sequential_p50_latency_n3_proxy: ratio(
        find('decision-ack-postgres-js', 3, true, 1).p50,
        find('sequential', 3, true, 1).p50,
      ),
      decision_vs_handwritten_p50_latency_n2_proxy: ratio(
        find('decision', 2, true, 1).p50,
        find('handwritten', 2, true, 1).p50,
      ),
      decision_vs_handwritten_p99_latency_n2_proxy: ratio(
        find('decision', 2, true, 1).p99,
        find('handwritten', 2, true, 1).p99,
      ),
      decision_vs_sequential_p50_latency_n3_proxy: ratio(
        find('decision', 3, true, 1).p50,
        find('sequential', 3, true, 1).p50,
      ),
      decision_vs_handwritten_throughput_n2_c16: ratio(
        find('decision', 2, false, 16).perSecond,
        find('handwritten', 2, false, 16).perSecond,
      ),
      postgres_js_vs_node_postgres_p50_latency_n2_proxy: ratio(
        find('decision-postgres-js', 2, true, 1).p50,
        find('decision', 2, true, 1).p50,
      ),
      postgres_js_vs_node_postgres_p50_latency_n3_proxy: ratio(
        find('decision-postgres-js', 3, true, 1).p50,
        find('decision', 3, true, 1).p50,
      ),
      postgres_js_vs_node_postgres_throughput_n2_c16: ratio(
        find('decision-postgres-js', 2, false, 16).perSecond,
        find('decision', 2, false, 16).perSecond,
      ),
      heap_growth_mb_10k: heapGrowth,
      tracing_noop_us_per_transaction: tracingCost,
      round_trips_per_transaction_n2: roundTripsOf(2),
      round_trips_per_transaction_n3: roundTripsOf(3),
      cpu_us_per_transaction_n2_c16: Object.fromEntries(
        MODES.map((mode) => [mode, find(mode, 2, false, 16).cpu]),
      ),
      targets: {
        decision_ack_vs_handwritten_p50_latency_n2_proxy: '<= 1.0',
        decision_ack_vs_sequential_p50_latency_n3_proxy: '<= 0.55',
        decision_ack_vs_handwritten_throughput_n2_c16: '>= 1.05',
        decision_vs_handwritten_p99_latency_n2_proxy: '<= 1.2',
        parallel_vs_sequential_p50_latency_n3_proxy: 'floor 3/8 = 0.375',
        decision_vs_sequential_p50_latency_n3_proxy: '<= 0.6',
        decision_vs_handwritten_throughput_n2_c16: '>= 1.0',
        heap_growth_mb_10k: '< 5',
      },
      settings: { ...options, node: process.version },
      cells: results,
    }
    log('')
    for (const [key, value] of Object.entries(summary).slice(0, 21)) {
      log(`${key}: ${typeof value === 'object' ? JSON.stringify(value) : value}`)
    }
    writeFileSync(options.output, `${JSON.stringify(summary, null, 2)}\n`)
    log(`\nWrote ${options.output}`)
    return summary
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.stop()))
    await Promise.all(servers.map((server) => server.stop()))
  }
}

/**
 * What the six spans of a `decision` transaction over two databases cost when nobody collects
 * them (the API's no-op tracer), in µs per transaction: CPU only, timed over 100,000 transactions.
 */
function spanCostPerTransactionUs(): number {
  const one = () => {
    const transaction = startSpan('txkit.transaction', { 'txkit.transaction.id': 'bench' })
    for (const name of [
      'txkit.begin',
      'txkit.prepare',
      'txkit.decision',
      'txkit.commit',
      'txkit.commit',
    ]) {
      startSpan(name, { 'txkit.database': 'a', 'txkit.branch.index': 1 }, transaction)?.end()
    }
    transaction?.end()
  }
  for (let i = 0; i < 10_000; i++) one()
  const started = performance.now()
  for (let i = 0; i < 100_000; i++) one()
  return Math.round((((performance.now() - started) * 1000) / 100_000) * 100) / 100
}
