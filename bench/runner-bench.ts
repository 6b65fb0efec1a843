import { writeFileSync } from 'node:fs'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { MariadbServer } from '../harness/mariadb-server.js'
import { PostgresServer } from '../harness/postgres-server.js'
import { createRunner, type RunTarget } from '../src/index.js'
import { mysqlSession } from '../src/mysql/mysql2.js'
import { pgSession } from '../src/postgres/node-postgres.js'
import { ratio } from './stats.js'

export interface RunnerBenchOptions {
  readonly seconds: number
  readonly output: string
}

/** A session whose statements are counted: one `query` call is one round trip. */
interface Counted {
  readonly statements: { count: number }
  query(sql: string, params?: unknown[]): Promise<unknown>
}

interface Side {
  readonly perOperationMs: number
  readonly roundTrips: number
}

interface Comparison {
  readonly bare: Side
  readonly runner: Side
  /** Median over rounds of (runner ms / bare ms), each round timing both back to back. */
  readonly overheadRatio: number
}

const OPERATIONS_PER_TRANSACTION = 100

/** The operation: read a row, update it, insert a row: three statements. */
async function threeStatements(session: Counted, placeholder: (n: number) => string, id: number) {
  await session.query(`SELECT v FROM items WHERE id = ${placeholder(1)}`, [1])
  await session.query(`UPDATE items SET v = v + 1 WHERE id = ${placeholder(1)}`, [1])
  await session.query(`INSERT INTO log (id) VALUES (${placeholder(1)})`, [id])
}

/**
 * Times the operation inside open transactions (committed every 100 operations, outside the
 * timing), bare and through the runner with a lock and a statement timeout, alternating rounds.
 */
async function compare(
  counted: Counted,
  held: RunTarget,
  begin: string,
  placeholder: (n: number) => string,
  seconds: number,
): Promise<Comparison> {
  const runner = createRunner()
  let id = 0
  const modes = {
    bare: () => threeStatements(counted, placeholder, ++id),
    runner: () =>
      runner.run(held, () => threeStatements(counted, placeholder, ++id), {
        name: 'three-statements',
        lockTimeout: 2_000,
        statementTimeout: 5_000,
      }),
  }
  const totals = { bare: { ms: 0, operations: 0 }, runner: { ms: 0, operations: 0 } }
  const roundTrips = { bare: 0, runner: 0 }
  const rounds = 20
  const roundRatios: number[] = []
  for (let round = 0; round < rounds; round++) {
    const roundMs = { bare: 0, runner: 0 }
    const roundOperations = { bare: 0, runner: 0 }
    for (const mode of ['bare', 'runner'] as const) {
      const end = performance.now() + (seconds * 1000) / (rounds * 2)
      while (performance.now() < end) {
        await counted.query(begin)
        for (let index = 0; index < OPERATIONS_PER_TRANSACTION; index++) {
          const before = counted.statements.count
          const started = performance.now()
          await modes[mode]()
          const took = performance.now() - started
          totals[mode].ms += took
          totals[mode].operations++
          roundMs[mode] += took
          roundOperations[mode]++
          roundTrips[mode] = counted.statements.count - before
        }
        await counted.query('COMMIT')
      }
    }
    roundRatios.push(
      roundMs.runner / roundOperations.runner / (roundMs.bare / roundOperations.bare),
    )
  }
  roundRatios.sort((a, b) => a - b)
  return {
    overheadRatio: ratio(roundRatios[Math.floor(roundRatios.length / 2)] ?? 0, 1),
    bare: { perOperationMs: totals.bare.ms / totals.bare.operations, roundTrips: roundTrips.bare },
    runner: {
      perOperationMs: totals.runner.ms / totals.runner.operations,
      roundTrips: roundTrips.runner,
    },
  }
}

/** Counts the statements sent through `session.query` (it keeps its own type for the runner). */
function counted<Session extends { query: (...args: never[]) => unknown }>(
  session: Session,
): Session & Counted {
  const statements = { count: 0 }
  const query = session.query.bind(session) as (sql: string, params?: unknown[]) => Promise<unknown>
  return Object.assign(session, {
    statements,
    query: (sql: string, params?: unknown[]) => {
      statements.count++
      return query(sql, params)
    },
  }) as unknown as Session & Counted
}

/**
 * The runner's cost inside a transaction: savepoint, timeouts and their restore around a
 * three-statement operation, against the same statements run bare, on PostgreSQL and MariaDB.
 */
export async function runRunnerBench(options: RunnerBenchOptions): Promise<void> {
  const postgres = await PostgresServer.start({ durable: true })
  const mariadb = await MariadbServer.start().catch(() => undefined)
  const pgPool = new pg.Pool({ connectionString: postgres.url(), max: 2 })
  const mysqlPool =
    mariadb === undefined
      ? undefined
      : mysql.createPool({ uri: mariadb.url('mysql'), connectionLimit: 2 })
  try {
    await pgPool.query('CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)')
    await pgPool.query('INSERT INTO items VALUES (1, 0)')
    await pgPool.query('CREATE TABLE log (id int PRIMARY KEY)')
    const pgClient = counted(await pgPool.connect())
    const onPg = await compare(
      pgClient,
      pgSession(pgClient),
      'BEGIN',
      (n) => `$${n}`,
      options.seconds,
    )
    pgClient.release()
    let onMariadb: Comparison | undefined
    if (mysqlPool !== undefined) {
      await mysqlPool.query('CREATE DATABASE bench')
      await mysqlPool.query('CREATE TABLE bench.items (id int PRIMARY KEY, v int NOT NULL)')
      await mysqlPool.query('INSERT INTO bench.items VALUES (1, 0)')
      await mysqlPool.query('CREATE TABLE bench.log (id int PRIMARY KEY)')
      const connection = counted(await mysqlPool.getConnection())
      await connection.query('USE bench')
      onMariadb = await compare(
        connection,
        mysqlSession(connection),
        'START TRANSACTION',
        () => '?',
        options.seconds,
      )
      connection.release()
    }
    const extraPg = onPg.runner.roundTrips - onPg.bare.roundTrips
    const overheadPg = onPg.overheadRatio
    console.log(
      `runner PostgreSQL: bare ${onPg.bare.perOperationMs.toFixed(3)} ms / ${onPg.bare.roundTrips} round trips, runner ${onPg.runner.perOperationMs.toFixed(3)} ms / ${onPg.runner.roundTrips} round trips`,
    )
    if (onMariadb !== undefined) {
      console.log(
        `runner MariaDB:    bare ${onMariadb.bare.perOperationMs.toFixed(3)} ms / ${onMariadb.bare.roundTrips} round trips, runner ${onMariadb.runner.perOperationMs.toFixed(3)} ms / ${onMariadb.runner.roundTrips} round trips`,
      )
    }
    console.log(
      `runner: runner_extra_round_trips_pg ${extraPg} (target <= 2), runner_overhead_ratio_pg ${overheadPg} (target <= 1.8)`,
    )
    const results = {
      runner_extra_round_trips_pg: { value: extraPg, target: '<= 2', met: extraPg <= 2 },
      runner_overhead_ratio_pg: { value: overheadPg, target: '<= 1.8', met: overheadPg <= 1.8 },
      ...(onMariadb && {
        runner_extra_round_trips_mariadb: onMariadb.runner.roundTrips - onMariadb.bare.roundTrips,
        runner_overhead_ratio_mariadb: onMariadb.overheadRatio,
      }),
      postgres: onPg,
      ...(onMariadb && { mariadb: onMariadb }),
      setup: {
        seconds: options.seconds,
        operation: 'SELECT, UPDATE, INSERT inside an open transaction',
        runnerOptions: { lockTimeout: 2000, statementTimeout: 5000 },
        note: 'Loopback, no added latency. The ratio is the median over 20 rounds, each timing both sides back to back.',
      },
    }
    writeFileSync(options.output, `${JSON.stringify(results, null, 2)}\n`)
  } finally {
    await pgPool.end()
    await mysqlPool?.end()
    await mariadb?.stop()
    await postgres.stop()
  }
}
