/**
 * One relay process for the backlog benchmark: `node outbox-relay-worker.js '<json>'` starts
 * txkit's relay on the outbox of the database at `url`, publishing to an in-memory broker, waits
 * until `count` messages are published, stops, and prints one JSON line: how long its start and
 * the drain took (and the rate of each tenth of it), its resident set size before the relay started and at its peak (VmHWM), and its
 * CPU time.
 */
import { readFileSync } from 'node:fs'
import pg from 'pg'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { FakeBroker } from './outbox-fakes.js'
import { startRelay } from './outbox-relay-adapter.js'

interface WorkerArguments {
  readonly url: string
  readonly count: number
  readonly batchSize: number
}

/** VmHWM (peak) or VmRSS from /proc/self/status, MB; process.memoryUsage().rss without /proc. */
function residentMb(field: 'VmHWM' | 'VmRSS'): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1])
    if (Number.isFinite(kb)) return Math.round(kb / 102.4) / 10
  } catch {
    // No /proc.
  }
  return Math.round(process.memoryUsage().rss / 104857.6) / 10
}

const args = JSON.parse(process.argv[2] ?? '{}') as WorkerArguments
const pool = new pg.Pool({ connectionString: args.url, max: 4 })
pool.on('error', () => {})
const database = pgDatabase(pool, { name: 'outbox' })
const broker = new FakeBroker({ track: false })
const baselineMb = residentMb('VmRSS')
const starting = performance.now()
const relay = await startRelay(database, broker, { batchSize: args.batchSize })
// The drain is timed from the relay running: its start (table checks, a count of the outbox) is
// reported apart.
const started = performance.now()
// When each tenth of the backlog was out: a rate that falls from tenth to tenth is a cost that
// grows with what was already published.
const tenths: number[] = []
broker.onPublished = (published) => {
  while (tenths.length < 10 && published >= ((tenths.length + 1) * args.count) / 10) {
    tenths.push(performance.now())
  }
}
await broker.until(args.count)
const seconds = (performance.now() - started) / 1000
const startSeconds = (started - starting) / 1000
await relay.stop()
await pool.end()
const usage = process.resourceUsage()
process.stdout.write(
  `${JSON.stringify({
    seconds,
    startSeconds,
    tenthRates: tenths.map((at, index) =>
      Math.round(
        args.count / 10 / ((at - (index === 0 ? started : (tenths[index - 1] as number))) / 1000),
      ),
    ),
    published: broker.published,
    baselineMb,
    peakRssMb: residentMb('VmHWM'),
    cpuSeconds: Math.round((usage.userCPUTime + usage.systemCPUTime) / 1e4) / 100,
  })}\n`,
)
