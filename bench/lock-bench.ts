import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import advisoryLockModule from 'advisory-lock'
import { Redis } from 'ioredis'
import mysql from 'mysql2/promise'
import pg from 'pg'
import Redlock from 'redlock'
import { freePort } from '../harness/free-port.js'
import { MariadbServer } from '../harness/mariadb-server.js'
import { PostgresServer } from '../harness/postgres-server.js'
import { ServerProcess } from '../harness/server-process.js'
import { createLock, type Database } from '../src/index.js'
import { mysqlDatabase } from '../src/mysql/mysql2.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { sleep } from '../src/util/sleep.js'
import { type LatencySummary, measure, ratio, summarise } from './stats.js'

export interface LockBenchOptions {
  readonly seconds: number
  readonly warmup: number
  readonly contenders: number
  readonly output: string
}

/** One way to take and give back a lock: resolves once held, to a function that releases it. */
type Locker = (key: string) => Promise<() => Promise<void>>

interface Contended {
  readonly handoffsPerSecond: number
  readonly p50WaitMs: number
  readonly p99WaitMs: number
  readonly maxWaitMs: number
  /** Grants of the least and the most served contender: far apart when a lock starves some. */
  readonly grantsPerContender: { readonly min: number; readonly max: number }
}

const POLL_INTERVAL_MS = 100
const HOLD_MS = 1
const THINK_MS_MAX = 8

/** `pg_advisory_lock` by hand on a pooled client: the floor any PostgreSQL lock library pays. */
function rawPg(pool: pg.Pool): Locker {
  return async (key) => {
    const client = await pool.connect()
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [key])
    return async () => {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])
      client.release()
    }
  }
}

/** The seed's way to bound a wait on PostgreSQL: try, sleep 100 ms, try again. */
function pollingPg(pool: pg.Pool): Locker {
  return async (key) => {
    const client = await pool.connect()
    for (;;) {
      const { rows } = await client.query(
        'SELECT pg_try_advisory_lock(hashtextextended($1, 0)) AS taken',
        [key],
      )
      if (rows[0].taken === true) break
      await sleep(POLL_INTERVAL_MS)
    }
    return async () => {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [key])
      client.release()
    }
  }
}

function rawMysql(pool: mysql.Pool): Locker {
  return async (key) => {
    const connection = await pool.getConnection()
    await connection.query('SELECT GET_LOCK(?, 1e9)', [key])
    return async () => {
      await connection.query('SELECT RELEASE_LOCK(?)', [key])
      connection.release()
    }
  }
}

/**
 * The statements txkit's lock sends, on txkit's connection adapter, without the lock object: what
 * the adapter costs over the raw driver, and what the lock object costs over it.
 */
function adapter(database: Database, take: string, release: string, key: unknown): Locker {
  return async () => {
    const connection = await database.acquire()
    await connection.query(take, [key])
    return async () => {
      await connection.query(release, [key])
      connection.release(false)
    }
  }
}

function txkit(pool: Database): Locker {
  return async (key) => {
    const lock = await createLock(pool, key).acquire()
    return () => lock.release()
  }
}

/** The advisory-lock package: a new client per lock (its design), taken and closed each time. */
function advisoryLockPackage(url: string): Locker {
  // A CommonJS module with a default export: Node hands ESM the exports object.
  const createMutex = (
    advisoryLockModule as unknown as {
      default: (url: string) => (name: string) => { lock(): Promise<() => Promise<void>> }
    }
  ).default(url)
  return async (key) => {
    const release = await createMutex(key).lock()
    return release
  }
}

/** redlock 4 on one Redis, its retry defaults (200 ms ± 200 ms jitter) with no retry limit. */
function redlock(client: Redis): Locker {
  const locker = new Redlock([client], { retryCount: -1 })
  return async (key) => {
    const lock = await locker.lock(`locks:${key}`, 10_000)
    return async () => {
      await lock.unlock()
    }
  }
}

const UNCONTENDED_ROUNDS = 6

/**
 * Acquire + release from one loop, for every locker in turn, in short interleaved rounds: a drift
 * of the shared machine then hits every locker alike instead of whichever ran during it.
 */
async function uncontended(
  lockers: ReadonlyArray<readonly [string, Locker]>,
  options: LockBenchOptions,
): Promise<Record<string, LatencySummary>> {
  const latencies = new Map<string, number[]>(lockers.map(([name]) => [name, []]))
  const slice = options.seconds / UNCONTENDED_ROUNDS
  for (const [name, locker] of lockers) {
    await measure(() => cycle(locker, `u-${name}`), {
      seconds: options.warmup,
      warmup: 0,
      concurrency: 1,
    })
  }
  for (let round = 0; round < UNCONTENDED_ROUNDS; round++) {
    // Reversed every other round: a slice no longer always follows the same locker, whose
    // leftovers (closing connections, timers) it would otherwise pay for each time.
    for (const [name, locker] of round % 2 === 0 ? lockers : [...lockers].reverse()) {
      const end = performance.now() + slice * 1000
      const own = latencies.get(name) as number[]
      while (performance.now() < end) {
        const start = performance.now()
        await cycle(locker, `u-${name}`)
        own.push(performance.now() - start)
      }
    }
  }
  return Object.fromEntries(
    [...latencies].map(([name, own]) => [name, summarise(own, options.seconds)]),
  )
}

async function cycle(locker: Locker, key: string): Promise<void> {
  const release = await locker(key)
  await release()
}

/** What one contended slice saw: every wait (ms) and each contender's grants. */
interface ContendedSlice {
  readonly waits: number[]
  readonly grants: number[]
  readonly seconds: number
}

/** `contenders` loops on one key: each waits, holds the lock for a moment, hands it on. */
async function contendedSlice(
  locker: Locker,
  options: LockBenchOptions,
  key: string,
): Promise<ContendedSlice> {
  const waits: number[] = []
  const warmupEnd = performance.now() + options.warmup * 1000
  const end = warmupEnd + options.seconds * 1000
  const waitingSince: Array<number | undefined> = []
  const grants = Array.from({ length: options.contenders }, () => 0)
  // A grant counts when it falls inside the window; a request still waiting when the window
  // closes counts with the wait so far, so that a lock that starves contenders cannot hide it.
  const closing = setTimeout(() => {
    for (const since of waitingSince) {
      if (since !== undefined) waits.push(end - Math.max(since, warmupEnd))
    }
  }, end - performance.now())
  await Promise.all(
    Array.from({ length: options.contenders }, async (_, contender) => {
      while (performance.now() < end) {
        const asked = performance.now()
        waitingSince[contender] = asked
        const release = await locker(key)
        const granted = performance.now()
        waitingSince[contender] = undefined
        if (granted >= warmupEnd && granted < end) {
          waits.push(granted - Math.max(asked, warmupEnd))
          grants[contender] = (grants[contender] ?? 0) + 1
        }
        await sleep(HOLD_MS)
        await release()
        // Work between turns: without it the releasing loop asks again at once, and a polling lock
        // hands the lock back to it while the others sleep (they starve, and go unmeasured).
        await sleep(Math.random() * THINK_MS_MAX)
      }
    }),
  )
  clearTimeout(closing)
  return { waits, grants, seconds: options.seconds }
}

const CONTENDED_ROUNDS = 2

/**
 * Every locker contended in turn, in rounds of half the time whose order reverses each round: a
 * locker always following the same one would pay for its leftovers (as the uncontended slices did).
 */
async function contended(
  lockers: ReadonlyArray<readonly [string, Locker]>,
  options: LockBenchOptions,
): Promise<Record<string, Contended>> {
  const slices = new Map<string, ContendedSlice[]>(lockers.map(([name]) => [name, []]))
  const slice = { ...options, seconds: options.seconds / CONTENDED_ROUNDS }
  for (let round = 0; round < CONTENDED_ROUNDS; round++) {
    for (const [name, locker] of round % 2 === 0 ? lockers : [...lockers].reverse()) {
      slices.get(name)?.push(await contendedSlice(locker, slice, `c-${name}-${round}`))
    }
  }
  const results: Record<string, Contended> = {}
  for (const [name, parts] of slices) {
    const waits = parts.flatMap((part) => part.waits)
    const grants = (parts[0]?.grants ?? []).map((_, contender) =>
      parts.reduce((sum, part) => sum + (part.grants[contender] ?? 0), 0),
    )
    const summary = summarise(
      waits,
      parts.reduce((sum, part) => sum + part.seconds, 0),
    )
    results[name] = {
      handoffsPerSecond: summary.perSecond,
      p50WaitMs: summary.p50,
      p99WaitMs: summary.p99,
      maxWaitMs: Math.max(0, ...waits),
      grantsPerContender: { min: Math.min(...grants), max: Math.max(...grants) },
    }
  }
  return results
}

async function startRedis(): Promise<{ client: Redis; stop: () => Promise<void> } | undefined> {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' })
  } catch {
    return undefined
  }
  const directory = await mkdtemp(join(tmpdir(), 'txkit-redis-'))
  const port = await freePort()
  const server = new ServerProcess({
    description: `Redis on port ${port}`,
    directory,
    command: [
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      directory,
    ],
    spawn: { stdio: 'ignore' },
    logFile: join(directory, 'redis.log'),
    stopSignal: 'SIGTERM',
    startTimeoutMs: 10_000,
    ready: async () => {
      const probe = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 0 })
      probe.on('error', () => {})
      try {
        await probe.connect()
        return (await probe.ping()) === 'PONG'
      } catch {
        return false
      } finally {
        probe.disconnect()
      }
    },
  })
  await server.launch()
  const client = new Redis({ port })
  return {
    client,
    stop: async () => {
      client.disconnect()
      await server.stop()
    },
  }
}

/**
 * Locks, side by side in one run: txkit vs raw SQL (pg_advisory_lock, GET_LOCK) vs the
 * advisory-lock package vs a 100 ms polling lock like the seed's vs redlock on a throwaway Redis.
 * Uncontended: acquire + release per second from one loop. Contended: `contenders` loops on one
 * key, each holding it 1 ms then working 0 to 8 ms: hand-offs per second and the wait for the
 * lock (p50, p99, max, and the spread of grants between contenders).
 */
export async function runLockBench(options: LockBenchOptions): Promise<void> {
  const postgres = await PostgresServer.start({ durable: true })
  const mariadb = await MariadbServer.start().catch((error: unknown) => {
    console.log(`locks: MariaDB not started (${String(error)}): PostgreSQL and Redis only`)
    return undefined
  })
  const redis = await startRedis()
  const pgPool = new pg.Pool({ connectionString: postgres.url(), max: options.contenders + 2 })
  const mysqlPool =
    mariadb === undefined
      ? undefined
      : mysql.createPool({ uri: mariadb.url('mysql'), connectionLimit: options.contenders + 2 })
  try {
    const pgBench = pgDatabase(pgPool, { name: 'bench' })
    const lockers: Array<[string, Locker]> = [
      ['txkit_pg', txkit(pgBench)],
      ['raw_pg', rawPg(pgPool)],
      [
        'adapter_pg',
        adapter(
          pgBench,
          'SELECT pg_advisory_lock($1::bigint)',
          'SELECT pg_advisory_unlock($1::bigint) AS released',
          '4242',
        ),
      ],
      ['advisory_lock_pkg', advisoryLockPackage(postgres.url())],
      ['polling_100ms_pg', pollingPg(pgPool)],
    ]
    if (mysqlPool !== undefined) {
      const mariadbBench = mysqlDatabase(mysqlPool, { name: 'bench' })
      lockers.push(
        ['txkit_mariadb', txkit(mariadbBench)],
        ['raw_mariadb', rawMysql(mysqlPool)],
        [
          'adapter_mariadb',
          adapter(
            mariadbBench,
            'SELECT GET_LOCK(?, 1e9) AS acquired',
            'SELECT RELEASE_LOCK(?) AS released',
            'adapter',
          ),
        ],
      )
    }
    if (redis !== undefined) lockers.push(['redlock', redlock(redis.client)])

    const uncontendedResults = await uncontended(lockers, options)
    for (const [name] of lockers) {
      console.log(
        `locks uncontended ${name.padEnd(18)} ${uncontendedResults[name]?.perSecond.toFixed(0).padStart(6)} acquire+release/s  p50 ${uncontendedResults[name]?.p50.toFixed(3)} ms`,
      )
    }
    const contendedResults = await contended(lockers, options)
    for (const [name] of lockers) {
      const result = contendedResults[name] as Contended
      console.log(
        `locks ${options.contenders} contenders ${name.padEnd(18)} ${result.handoffsPerSecond.toFixed(0).padStart(5)} hand-offs/s  wait p50 ${result.p50WaitMs.toFixed(1)} ms  p99 ${result.p99WaitMs.toFixed(1)} ms  max ${result.maxWaitMs.toFixed(0)} ms  grants/contender ${result.grantsPerContender.min}..${result.grantsPerContender.max}`,
      )
    }
    const txkitVsRaw = ratio(
      uncontendedResults.txkit_pg?.perSecond ?? 0,
      uncontendedResults.raw_pg?.perSecond ?? 1,
    )
    const txkitVsPolling = ratio(
      contendedResults.txkit_pg?.p99WaitMs ?? 0,
      contendedResults.polling_100ms_pg?.p99WaitMs ?? 1,
    )
    const results = {
      txkit_vs_raw_uncontended: { value: txkitVsRaw, target: '>= 0.95', met: txkitVsRaw >= 0.95 },
      txkit_vs_polling_p99_wait: {
        value: txkitVsPolling,
        target: '<= 0.1',
        met: txkitVsPolling <= 0.1,
      },
      ...withTarget(
        'txkit_vs_raw_contended_handoffs_pg',
        contendedResults.txkit_pg?.handoffsPerSecond,
        contendedResults.raw_pg?.handoffsPerSecond,
      ),
      ...withTarget(
        'txkit_vs_raw_contended_p99_wait_pg',
        contendedResults.txkit_pg?.p99WaitMs,
        contendedResults.raw_pg?.p99WaitMs,
        'wait',
      ),
      ...withTarget(
        'txkit_vs_raw_contended_handoffs_mariadb',
        contendedResults.txkit_mariadb?.handoffsPerSecond,
        contendedResults.raw_mariadb?.handoffsPerSecond,
      ),
      ...withTarget(
        'txkit_vs_raw_uncontended_mariadb',
        uncontendedResults.txkit_mariadb?.perSecond,
        uncontendedResults.raw_mariadb?.perSecond,
      ),
      // Where the uncontended cost is: txkit's connection adapter over the raw driver, then the
      // lock object (key, re-entrance check, lost-session watch, state) over the adapter.
      cost_breakdown_uncontended: {
        adapter_vs_raw_pg: ratio(
          uncontendedResults.adapter_pg?.perSecond ?? 0,
          uncontendedResults.raw_pg?.perSecond ?? 1,
        ),
        txkit_vs_adapter_pg: ratio(
          uncontendedResults.txkit_pg?.perSecond ?? 0,
          uncontendedResults.adapter_pg?.perSecond ?? 1,
        ),
        adapter_vs_raw_mariadb: ratio(
          uncontendedResults.adapter_mariadb?.perSecond ?? 0,
          uncontendedResults.raw_mariadb?.perSecond ?? 1,
        ),
        txkit_vs_adapter_mariadb: ratio(
          uncontendedResults.txkit_mariadb?.perSecond ?? 0,
          uncontendedResults.adapter_mariadb?.perSecond ?? 1,
        ),
      },
      uncontended: uncontendedResults,
      contended: contendedResults,
      setup: {
        seconds: options.seconds,
        contenders: options.contenders,
        holdMs: HOLD_MS,
        thinkMsMax: THINK_MS_MAX,
        pollIntervalMs: POLL_INTERVAL_MS,
        redis: redis !== undefined,
        mariadb: mariadb !== undefined,
        note: 'One machine, loopback, no added latency. Compare ratios within this run only.',
      },
    }
    for (const [key, value] of Object.entries(results)) {
      if (typeof value === 'object' && value !== null && 'value' in value) {
        console.log(`locks: ${key} ${value.value} (target ${value.target})`)
      }
    }
    console.log(`locks: cost breakdown ${JSON.stringify(results.cost_breakdown_uncontended)}`)
    writeFileSync(options.output, `${JSON.stringify(results, null, 2)}\n`)
  } finally {
    await pgPool.end()
    await mysqlPool?.end()
    await redis?.stop()
    await mariadb?.stop()
    await postgres.stop()
  }
}

/**
 * `{ [key]: { value: txkit / raw, target, met } }`, or nothing when a side did not run (no
 * MariaDB). A rate must reach 0.95× raw's; a wait may be at most raw's / 0.95.
 */
function withTarget(
  key: string,
  txkit: number | undefined,
  raw: number | undefined,
  kind: 'rate' | 'wait' = 'rate',
): Record<string, { value: number; target: string; met: boolean }> {
  if (txkit === undefined || raw === undefined) return {}
  const value = ratio(txkit, raw)
  return kind === 'rate'
    ? { [key]: { value, target: '>= 0.95', met: value >= 0.95 } }
    : { [key]: { value, target: '<= 1.053', met: value <= 1.053 } }
}
