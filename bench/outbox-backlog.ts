/**
 * Key 4: a relay process started on a backlog of committed messages (100,000 by default) drains
 * it into an in-memory broker; its peak resident set size, and its drain rate against the rate on
 * a backlog a tenth the size, alternating.
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { insertBacklog, truncateOutbox } from './outbox-fakes.js'
import { alternate, type Spread, spreadOf } from './outbox-rounds.js'

const worker = fileURLToPath(new URL('./outbox-relay-worker.js', import.meta.url))

interface WorkerRun {
  readonly seconds: number
  readonly startSeconds: number
  readonly tenthRates: readonly number[]
  readonly published: number
  readonly baselineMb: number
  readonly peakRssMb: number
  readonly cpuSeconds: number
}

async function runWorker(url: string, count: number): Promise<WorkerRun> {
  const argument = JSON.stringify({ url, count, batchSize: 200 })
  const { stdout } = await promisify(execFile)(process.execPath, [worker, argument], {
    maxBuffer: 1 << 20,
  })
  return JSON.parse(stdout) as WorkerRun
}

export async function runBacklogBench(
  url: string,
  count: number,
  rounds: number,
  log: (line: string) => void,
): Promise<{ peakRssMb: Spread; ratio: Spread; details: Record<string, unknown> }> {
  const small = Math.round(count / 10)
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  pool.on('error', () => {})
  const runs: { large: WorkerRun[]; small: WorkerRun[] } = { large: [], small: [] }
  const drain = (size: number, into: WorkerRun[]) => async (round: number) => {
    await truncateOutbox(pool)
    await insertBacklog(pool, size, `b${round}-${size}`)
    const run = await runWorker(url, size)
    if (run.published < size) throw new Error(`the relay published ${run.published} of ${size}`)
    const { rows } = await pool.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM txkit_outbox WHERE state = 'P'",
    )
    if (rows[0]?.n !== '0') throw new Error(`${rows[0]?.n} messages left pending`)
    into.push(run)
    return size / run.seconds
  }
  try {
    const result = await alternate(
      rounds,
      drain(count, runs.large),
      drain(small, runs.small),
      (round, a, b) => {
        const large = runs.large[round]
        log(`  round ${round + 1}: ${count}, msg/s by tenth: ${large?.tenthRates.join(' ')}`)
        log(
          `  round ${round + 1}: ${count} at ${a.toFixed(0)} msg/s (peak RSS ${large?.peakRssMb} MB, from ${large?.baselineMb} MB before the relay; CPU ${large?.cpuSeconds} s; start ${large?.startSeconds.toFixed(2)} s), ${small} at ${b.toFixed(0)} msg/s (peak RSS ${runs.small[round]?.peakRssMb} MB)`,
        )
      },
    )
    return {
      peakRssMb: spreadOf(runs.large.map((run) => run.peakRssMb)),
      ratio: result.ratio,
      details: {
        backlog: count,
        small_backlog: small,
        drain_rate_per_s: { large: result.a, small: result.b },
        small_backlog_peak_rss_mb: spreadOf(runs.small.map((run) => run.peakRssMb)),
        rss_before_relay_mb: spreadOf(runs.large.map((run) => run.baselineMb)),
        cpu_seconds_large: spreadOf(runs.large.map((run) => run.cpuSeconds)),
        large_drain_rate_by_tenth: runs.large.map((run) => run.tenthRates),
        start_seconds: {
          large: spreadOf(runs.large.map((run) => run.startSeconds)),
          small: spreadOf(runs.small.map((run) => run.startSeconds)),
        },
      },
    }
  } finally {
    await truncateOutbox(pool).catch(() => undefined)
    await pool.end()
  }
}
