import { execFile } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { PostgresServer } from '../harness/postgres-server.js'
import { createCoordinator, recover } from '../src/index.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { ratio } from './stats.js'

export interface RecoveryBenchOptions {
  readonly transactions: number
  readonly concurrency: number
  readonly output: string
}

/** Leaves `count` prepared transactions in `pool`'s database, ids from `gtrids`, `parallel` at a time. */
async function prepareMany(
  pool: pg.Pool,
  gids: readonly string[],
  parallel: number,
): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      const client = await pool.connect()
      try {
        while (next < gids.length) {
          const gid = gids[next++] as string
          await client.query('BEGIN')
          await client.query('INSERT INTO stuck (gid) VALUES ($1)', [gid])
          await client.query(`PREPARE TRANSACTION '${gid}'`)
        }
      } finally {
        client.release()
      }
    }),
  )
}

function gtridAt(index: number): string {
  return `bench.${(Date.now() - 3_600_000).toString(36).padStart(9, '0')}${index.toString(16).padStart(16, '0')}`
}

/** Samples the resident set size while `work` runs; returns its result and the peak in MB. */
async function withPeakRss<T>(work: () => Promise<T>): Promise<{ result: T; peakMb: number }> {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 10)
  try {
    const result = await work()
    peak = Math.max(peak, process.memoryUsage().rss)
    return { result, peakMb: Math.round((peak / 1024 / 1024) * 10) / 10 }
  } finally {
    clearInterval(timer)
  }
}

/**
 * Recovery benchmark: `transactions` stuck prepared transactions (a 'C' decision each), half on
 * each of two PostgreSQL databases; `recover()` against the same COMMIT PREPARED statements issued
 * directly with the same parallelism.
 */
export async function runRecoveryBench(
  options: RecoveryBenchOptions,
): Promise<Record<string, unknown>> {
  const log = (line: string) => process.stdout.write(`${line}\n`)
  log(
    `\n## Recovery of ${options.transactions} stuck transactions over 2 databases (PostgreSQL, fsync on; parallelism ${options.concurrency})\n`,
  )
  // fsync on, like the commit benchmark and like production.
  const server = await PostgresServer.start({
    durable: true,
    maxPreparedTransactions: options.transactions + 100,
    maxConnections: 100,
  })
  try {
    const admin = new pg.Client({ connectionString: server.url() })
    await admin.connect()
    for (const name of ['r0', 'r1']) await admin.query(`CREATE DATABASE ${name}`)
    await admin.end()
    const pools = ['r0', 'r1'].map((name) => {
      const pool = new pg.Pool({ connectionString: server.url(name), max: options.concurrency + 2 })
      pool.on('error', () => {})
      return pool
    })
    for (const pool of pools) await pool.query('CREATE TABLE stuck (gid text)')
    const databases = pools.map((pool, index) => pgDatabase(pool, { name: `r${index}` }))
    const [decisionDb] = databases
    if (decisionDb === undefined) throw new Error('no database')
    await createCoordinator({ prefix: 'bench', decisionLog: decisionDb }).createDecisionLog()

    const gtrids = Array.from({ length: options.transactions }, (_, index) => gtridAt(index))
    // Branch 1 of 2 of every transaction; the transactions alternate between the two databases.
    const gidsOf = (db: number) =>
      gtrids.filter((_, index) => index % 2 === db).map((gtrid) => `${gtrid}.2.1`)
    const setUp = async () => {
      const started = performance.now()
      await Promise.all(pools.map((pool, db) => prepareMany(pool, gidsOf(db), 4)))
      await pools[0]?.query(
        `INSERT INTO txkit_decision (gtrid, outcome, participants)
         SELECT g, 'C', '["r0","r1"]' FROM unnest($1::varchar[]) g ON CONFLICT DO NOTHING`,
        [gtrids],
      )
      log(
        `  prepared ${options.transactions} transactions in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      )
    }

    await setUp()
    const raw = await withPeakRss(async () => {
      const started = performance.now()
      const work = pools.flatMap((pool, db) => gidsOf(db).map((gid) => ({ pool, gid })))
      let next = 0
      await Promise.all(
        Array.from({ length: options.concurrency }, async () => {
          while (next < work.length) {
            const { pool, gid } = work[next++] as { pool: pg.Pool; gid: string }
            await pool.query(`COMMIT PREPARED '${gid}'`)
          }
        }),
      )
      return (performance.now() - started) / 1000
    })
    log(`  raw COMMIT PREPARED:  ${raw.result.toFixed(2)} s`)

    await pools[0]?.query('DELETE FROM txkit_decision')
    await setUp()
    const global = globalThis as { gc?: () => void }
    global.gc?.()
    const txkit = await withPeakRss(async () => {
      const started = performance.now()
      const report = await recover({
        databases,
        decisionLog: decisionDb,
        prefix: 'bench',
        minAge: 0,
        concurrency: options.concurrency,
      })
      if (report.counts.committed !== options.transactions) {
        throw new Error(`recover committed ${report.counts.committed} of ${options.transactions}`)
      }
      return (performance.now() - started) / 1000
    })
    log(`  txkit recover():      ${txkit.result.toFixed(2)} s (peak RSS ${txkit.peakMb} MB)`)
    for (const pool of pools) await pool.end()

    const summary = {
      recover_10k_vs_raw_time: ratio(txkit.result, raw.result),
      recover_10k_peak_rss_mb: txkit.peakMb,
      raw_seconds: Math.round(raw.result * 100) / 100,
      txkit_seconds: Math.round(txkit.result * 100) / 100,
      targets: { recover_10k_vs_raw_time: '<= 1.2' },
      settings: { ...options, node: process.version },
    }
    log(`\nrecover_10k_vs_raw_time: ${summary.recover_10k_vs_raw_time}`)
    log(`recover_10k_peak_rss_mb: ${summary.recover_10k_peak_rss_mb}`)
    writeFileSync(options.output, `${JSON.stringify(summary, null, 2)}\n`)
    log(`\nWrote ${options.output}`)
    return summary
  } finally {
    await server.stop()
  }
}

export interface RecoveryScaleBenchOptions {
  /** In-doubt transactions of the large run (the small run has a tenth). */
  readonly transactions: number
  readonly databases: number
  /** Each worker's `concurrency`. */
  readonly concurrency: number
  /** The recovery results file: the scale figures are added to it. */
  readonly output: string
}

interface WorkerRun {
  readonly seconds: number
  readonly cpuSeconds: number
  readonly counts: { committed: number; rolledBack: number; left: number; failed: number }
  readonly peakRssMb: number
}

/** Busy and total CPU time of the whole machine so far, from /proc/stat (Linux), in ticks. */
function machineCpu(): { busy: number; total: number } {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number)
  const total = fields.reduce((sum, value) => sum + value, 0)
  // idle and iowait are not busy; steal is time another machine took: busy for us.
  return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total }
}

/** Runs `work` and says how busy the machine's CPUs were meanwhile (0 to 1). */
async function withMachineLoad<T>(work: () => Promise<T>): Promise<{ result: T; busy: number }> {
  const before = machineCpu()
  const result = await work()
  const after = machineCpu()
  const busy = (after.busy - before.busy) / Math.max(1, after.total - before.total)
  return { result, busy: Math.round(busy * 100) / 100 }
}

const worker = fileURLToPath(new URL('./recovery-worker.js', import.meta.url))

/** Runs one recovery worker process (its own heap, so that its peak RSS is its own). */
async function runWorker(urls: Record<string, string>, concurrency: number): Promise<WorkerRun> {
  const argument = JSON.stringify({ urls, decisionLog: 's0', prefix: 'bench', concurrency })
  const { stdout } = await promisify(execFile)(process.execPath, [worker, argument], {
    maxBuffer: 1 << 20,
  })
  return JSON.parse(stdout) as WorkerRun
}

/**
 * Recovery at scale: `transactions` in-doubt transactions spread over `databases` PostgreSQL
 * servers (one prepared branch each, its 'C' decision in database s0), recovered by one worker
 * process, then again by two at once; and a tenth as many by one worker, for time per transaction.
 */
export async function runRecoveryScaleBench(
  options: RecoveryScaleBenchOptions,
): Promise<Record<string, unknown>> {
  const log = (line: string) => process.stdout.write(`${line}\n`)
  const small = Math.round(options.transactions / 10)
  log(
    `\n## Recovery at scale: ${options.transactions} and ${small} in-doubt transactions over ${options.databases} databases, one PostgreSQL server each (fsync on; each worker a process, parallelism ${options.concurrency})\n`,
  )
  // One server per database, as a deployment has: PostgreSQL's own cost per prepared transaction
  // grows with how many one server holds (its lookups scan them all), which is not recovery's.
  const perServer = Math.ceil(options.transactions / options.databases)
  const servers = await Promise.all(
    Array.from({ length: options.databases }, () =>
      PostgresServer.start({
        durable: true,
        maxPreparedTransactions: perServer + 100,
        maxConnections: 60,
      }),
    ),
  )
  try {
    const names = servers.map((_, index) => `s${index}`)
    const urls = Object.fromEntries(names.map((name, index) => [name, servers[index]?.url() ?? '']))
    const pools = servers.map((server) => {
      const pool = new pg.Pool({ connectionString: server.url(), max: 6 })
      pool.on('error', () => {})
      return pool
    })
    for (const pool of pools) await pool.query('CREATE TABLE stuck (gid text)')
    const decisionPool = pools[0] as pg.Pool
    await createCoordinator({
      prefix: 'bench',
      decisionLog: pgDatabase(decisionPool, { name: 's0' }),
    }).createDecisionLog()

    const setUp = async (count: number) => {
      const started = performance.now()
      const gtrids = Array.from({ length: count }, (_, index) => gtridAt(index))
      await Promise.all(
        pools.map((pool, db) =>
          prepareMany(
            pool,
            gtrids
              .filter((_, index) => index % options.databases === db)
              .map((gtrid) => `${gtrid}.2.1`),
            4,
          ),
        ),
      )
      for (let from = 0; from < count; from += 10_000) {
        await decisionPool.query(
          `INSERT INTO txkit_decision (gtrid, outcome, participants)
           SELECT g, 'C', '["s0","s1"]' FROM unnest($1::varchar[]) g`,
          [gtrids.slice(from, from + 10_000)],
        )
      }
      log(
        `  prepared ${count} transactions in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      )
    }
    const committed = (runs: readonly WorkerRun[]) =>
      runs.reduce((sum, run) => sum + run.counts.committed, 0)
    // Two workers may both report a transaction committed (the second finds it finished).
    const check = (runs: readonly WorkerRun[], count: number) => {
      const failed = runs.reduce((sum, run) => sum + run.counts.failed, 0)
      if (
        committed(runs) < count ||
        (runs.length === 1 && committed(runs) !== count) ||
        failed !== 0
      ) {
        throw new Error(`recovery committed ${committed(runs)} of ${count}, ${failed} failed`)
      }
    }

    await setUp(small)
    const one10k = await runWorker(urls, options.concurrency)
    check([one10k], small)
    log(`  one worker, ${small}:  ${one10k.seconds.toFixed(2)} s, peak RSS ${one10k.peakRssMb} MB`)

    await setUp(options.transactions)
    const oneRun = await withMachineLoad(() => runWorker(urls, options.concurrency))
    const one = oneRun.result
    check([one], options.transactions)
    log(
      `  one worker, ${options.transactions}: ${one.seconds.toFixed(2)} s, peak RSS ${one.peakRssMb} MB, worker CPU ${one.cpuSeconds} s, machine CPUs ${Math.round(oneRun.busy * 100)} % busy`,
    )

    await setUp(options.transactions)
    const started = performance.now()
    const twoRun = await withMachineLoad(() =>
      Promise.all([runWorker(urls, options.concurrency), runWorker(urls, options.concurrency)]),
    )
    const two = twoRun.result
    const twoSeconds = (performance.now() - started) / 1000
    check(two, options.transactions)
    log(
      `  two workers, ${options.transactions}: ${twoSeconds.toFixed(2)} s (committed ${two.map((run) => run.counts.committed).join(' + ')}; peak RSS ${two.map((run) => run.peakRssMb).join(', ')} MB; worker CPU ${two.map((run) => run.cpuSeconds).join(' + ')} s; machine CPUs ${Math.round(twoRun.busy * 100)} % busy)`,
    )
    for (const pool of pools) await pool.end()

    const perTransaction = (run: WorkerRun, count: number) => run.seconds / count
    const summary = {
      recover_100k_peak_rss_mb: one.peakRssMb,
      recover_100k_vs_10k_time_per_transaction: ratio(
        perTransaction(one, options.transactions),
        perTransaction(one10k, small),
      ),
      recover_two_workers_vs_one_time: ratio(twoSeconds, one.seconds),
      scale: {
        transactions: options.transactions,
        databases: options.databases,
        concurrency_per_worker: options.concurrency,
        one_worker_seconds: round2(one.seconds),
        one_worker_small_seconds: round2(one10k.seconds),
        two_workers_seconds: round2(twoSeconds),
        two_workers_committed: two.map((run) => run.counts.committed),
        one_worker_cpu_seconds: one.cpuSeconds,
        machine_cpu_busy_one_worker: oneRun.busy,
        machine_cpu_busy_two_workers: twoRun.busy,
      },
    }
    log(`\nrecover_100k_peak_rss_mb: ${summary.recover_100k_peak_rss_mb}`)
    log(
      `recover_100k_vs_10k_time_per_transaction: ${summary.recover_100k_vs_10k_time_per_transaction}`,
    )
    log(`recover_two_workers_vs_one_time: ${summary.recover_two_workers_vs_one_time}`)
    const previous = JSON.parse(readFileSync(options.output, 'utf8')) as Record<string, unknown>
    const targets = {
      ...(previous.targets as Record<string, string> | undefined),
      recover_100k_peak_rss_mb: '<= 256',
      recover_100k_vs_10k_time_per_transaction: '<= 1.2',
      recover_two_workers_vs_one_time: '<= 0.8',
    }
    writeFileSync(
      options.output,
      `${JSON.stringify({ ...previous, ...summary, targets }, null, 2)}\n`,
    )
    log(`\nWrote ${options.output}`)
    return summary
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

function round2(value: number): number {
  return Math.round(value * 100) / 100
}
