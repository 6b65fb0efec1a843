/**
 * One recovery worker process for the scale benchmark: `node recovery-worker.js '<json>'` runs one
 * `recover()` round over the databases named in the argument and prints one JSON line: what it
 * did, how long it took and its peak resident set size.
 */
import pg from 'pg'
import { recover } from '../src/index.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'

interface WorkerArguments {
  readonly urls: Record<string, string>
  readonly decisionLog: string
  readonly prefix: string
  readonly concurrency: number
}

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArguments
const pools = Object.entries(args.urls).map(([name, url]) => {
  const pool = new pg.Pool({ connectionString: url, max: args.concurrency + 2 })
  pool.on('error', () => {})
  return { name, pool, db: pgDatabase(pool, { name }) }
})
const decisionLog = pools.find((entry) => entry.name === args.decisionLog)?.db
if (decisionLog === undefined) throw new Error(`no database named ${args.decisionLog}`)
const started = performance.now()
const report = await recover({
  databases: pools.map((entry) => entry.db),
  decisionLog,
  prefix: args.prefix,
  minAge: 0,
  concurrency: args.concurrency,
})
const seconds = (performance.now() - started) / 1000
await Promise.all(pools.map((entry) => entry.pool.end()))
process.stdout.write(
  `${JSON.stringify({
    seconds,
    counts: report.counts,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 102.4) / 10,
    cpuSeconds:
      Math.round(
        (process.resourceUsage().userCPUTime + process.resourceUsage().systemCPUTime) / 1e4,
      ) / 100,
  })}\n`,
)
