import { readFileSync, writeFileSync } from 'node:fs'
import pg from 'pg'
import { LatencyProxy } from '../harness/latency-proxy.js'
import { PostgresServer } from '../harness/postgres-server.js'
import { type Coordinator, createCoordinator, type Database, parseXid } from '../src/index.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { branchXid } from '../src/xid/xid.js'
import { createBenchTables } from './bench-table.js'
import { type LatencySummary, measure, ratio } from './stats.js'

export interface ParticipantBenchOptions {
  readonly seconds: number
  readonly warmup: number
  readonly latencyMs: number
  readonly output: string
}

const DATABASES = 4
const CONCURRENCY = 16

/** Where each committed transaction's decision went, by database name. */
type Holders = Map<string, number>

/**
 * Transactions over a random pair of the four databases, each inserting a row in both; the
 * decision goes where the coordinator puts it. Counts the database each id names.
 */
function randomPairs(
  coordinator: Coordinator,
  databases: readonly Database[],
  holders: Holders,
): () => Promise<void> {
  return async () => {
    const first = Math.floor(Math.random() * databases.length)
    const second =
      (first + 1 + Math.floor(Math.random() * (databases.length - 1))) % databases.length
    const pair = [databases[first], databases[second]] as Database[]
    const gtrid = await coordinator.transaction(
      Object.fromEntries(pair.map((database) => [database.name, database])),
      async (branches, tx) => {
        await Promise.all(
          Object.values(branches).map((branch) =>
            branch.query('INSERT INTO bench (note) VALUES ($1)', ['tx']),
          ),
        )
        return tx.gtrid
      },
    )
    const parsed = parseXid(branchXid(gtrid, 2, 0), 'bench')
    const holder = parsed.kind === 'decision' ? (parsed.decisionLog ?? '?') : '?'
    holders.set(holder, (holders.get(holder) ?? 0) + 1)
  }
}

function busiestShare(holders: Holders): number {
  const total = [...holders.values()].reduce((sum, count) => sum + count, 0)
  return total === 0 ? 0 : Math.max(...holders.values()) / total
}

/**
 * `decisionDatabases` against one decision log, side by side: four PostgreSQL servers (fsync on),
 * transactions over random pairs, 16 at a time, direct and through a latency proxy. The central
 * log is on the first database, which takes part in half of the transactions (its 'C' row rides
 * in its branch then, and is inserted on its own otherwise).
 */
export async function runParticipantBench(options: ParticipantBenchOptions): Promise<void> {
  const log = (line: string) => process.stdout.write(`${line}\n`)
  log(
    `\n## Decisions kept by the participants (4 PostgreSQL servers, fsync on, random pairs, ${CONCURRENCY} at a time, ${options.seconds}s per cell)\n`,
  )
  const servers = await Promise.all(
    Array.from({ length: DATABASES }, () =>
      PostgresServer.start({ durable: true, maxConnections: 200 }),
    ),
  )
  const proxies = await Promise.all(
    servers.map((server) => LatencyProxy.start(server.port, options.latencyMs)),
  )
  const rows: Array<
    { mode: string; proxy: boolean; busiestDecisionShare: number } & LatencySummary
  > = []
  try {
    await createBenchTables(servers)
    log("| decisions | proxy | tx/s | p50 ms | p99 ms | busiest database's share of decisions |")
    log('|---|---|---|---|---|---|')
    for (const proxy of [false, true]) {
      const pools = (proxy ? proxies.map((p) => p.port) : servers.map((s) => s.port)).map(
        (port) => {
          const pool = new pg.Pool({
            connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
            max: CONCURRENCY + 4,
          })
          pool.on('error', () => {})
          return pool
        },
      )
      const databases = pools.map((pool, index) => pgDatabase(pool, { name: `db${index}` }))
      const modes: Array<[string, Coordinator]> = [
        ['central', createCoordinator({ prefix: 'bench', decisionLog: databases[0] as Database })],
        ['participants', createCoordinator({ prefix: 'bench', decisionDatabases: databases })],
      ]
      for (const [, coordinator] of modes) await coordinator.createDecisionLog()
      try {
        for (const [mode, coordinator] of modes) {
          const holders: Holders = new Map()
          const summary = await measure(randomPairs(coordinator, databases, holders), {
            ...options,
            concurrency: CONCURRENCY,
          })
          const share = busiestShare(holders)
          rows.push({ mode, proxy, busiestDecisionShare: share, ...summary })
          log(
            `| ${mode} | ${proxy ? `${options.latencyMs} ms` : 'none'} | ${summary.perSecond.toFixed(0)} | ${summary.p50.toFixed(2)} | ${summary.p99.toFixed(2)} | ${(share * 100).toFixed(0)} % |`,
          )
        }
      } finally {
        for (const [, coordinator] of modes) await coordinator.close()
        await Promise.all(pools.map((pool) => pool.end()))
      }
    }
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.stop()))
    await Promise.all(servers.map((server) => server.stop()))
  }
  const cell = (mode: string, proxy: boolean) =>
    rows.find((row) => row.mode === mode && row.proxy === proxy)
  const figures = {
    participant_decisions_vs_central_throughput_4db: ratio(
      cell('participants', false)?.perSecond ?? 0,
      cell('central', false)?.perSecond ?? 0,
    ),
    participant_decisions_vs_central_throughput_4db_proxy: ratio(
      cell('participants', true)?.perSecond ?? 0,
      cell('central', true)?.perSecond ?? 0,
    ),
    busiest_database_decision_share_central: cell('central', false)?.busiestDecisionShare,
    busiest_database_decision_share_participants: cell('participants', false)?.busiestDecisionShare,
  }
  for (const [name, value] of Object.entries(figures)) log(`${name}: ${value}`)
  let previous: Record<string, unknown> = {}
  try {
    previous = JSON.parse(readFileSync(options.output, 'utf8')) as Record<string, unknown>
  } catch {
    // A first run: nothing to keep.
  }
  writeFileSync(
    options.output,
    `${JSON.stringify({ ...previous, participantDecisions: { rows, ...figures } }, null, 2)}\n`,
  )
}
