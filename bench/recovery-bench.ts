import { writeFileSync } from 'node:fs'
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
