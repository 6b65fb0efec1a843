/**
 * `node build/bench/kill-while-connecting.js [--rounds 25] [--mode alone|txkit]`: how often
 * PostgreSQL dying while postgres.js opens its connections ends in an unhandled rejection (postgres.js
 * 3.4.9 drops the promise of the array-type query it runs on every new connection:
 * porsager/postgres#1192, #1223). Each round opens fresh postgres.js instances, starts work that
 * opens their connections, kills the server (SIGKILL of its process group) 0–30 ms later, waits
 * for the dust to settle and counts the rounds with at least one unhandled rejection.
 * `alone`: plain queries; `txkit`: parallel-protocol transactions over two databases. Compare the
 * two, and txkit's figure before and after a change: txkit must not make it more likely.
 */
import { randomInt } from 'node:crypto'
import { parseArgs } from 'node:util'
import pg from 'pg'
import postgres from 'postgres'
import { PostgresServer } from '../harness/postgres-server.js'
import { createCoordinator } from '../src/index.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'
import { postgresJsDatabase } from '../src/postgres/postgres-js.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '25' },
    mode: { type: 'string', default: 'alone' },
  },
})
const rounds = Number(values.rounds)
const mode = values.mode
if (mode !== 'alone' && mode !== 'txkit') throw new Error('--mode alone|txkit')

const rejections: unknown[] = []
process.on('unhandledRejection', (reason) => rejections.push(reason))
const uncaught: unknown[] = []
process.on('uncaughtException', (error) => uncaught.push(error))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const server = await PostgresServer.start()
const urlA = server.url()
const urlB = server.url('b')
{
  const admin = new pg.Pool({ connectionString: urlA, max: 1 })
  await admin.query('CREATE DATABASE b')
  await admin.end()
  const pools = [urlA, urlB].map((url) => new pg.Pool({ connectionString: url, max: 2 }))
  const [a, b] = pools.map((pool, index) => pgDatabase(pool, { name: index === 0 ? 'a' : 'b' }))
  if (a === undefined || b === undefined) throw new Error('two databases')
  const setup = createCoordinator({ decisionLog: a, protocol: 'parallel' })
  await setup.createDecisionLog()
  await setup.createFenceTable(a)
  await setup.createFenceTable(b)
  await Promise.all(pools.map((pool) => pool.end()))
}

let withRejection = 0
let withClosed = 0
let total = 0
const kinds = new Map<string, number>()
/** One stack per kind, to show where each comes from. */
const stacks = new Map<string, string>()
for (let round = 0; round < rounds; round++) {
  rejections.length = 0
  uncaught.length = 0
  const instances = [urlA, urlB].map((url) =>
    postgres(url, { max: 4, onnotice: () => {}, connect_timeout: 2 }),
  )
  const [sqlA, sqlB] = instances as [postgres.Sql, postgres.Sql]
  let stop = false
  const work: Array<Promise<unknown>> = []
  if (mode === 'alone') {
    for (let i = 0; i < 8; i++) {
      const sql = i % 2 === 0 ? sqlA : sqlB
      work.push(
        (async () => {
          while (!stop) await sql`SELECT 1`.catch(() => sleep(20))
        })(),
      )
    }
  } else {
    const a = postgresJsDatabase(sqlA, { name: 'a' })
    const b = postgresJsDatabase(sqlB, { name: 'b' })
    const coordinator = createCoordinator({ decisionLog: a, protocol: 'parallel' })
    for (let i = 0; i < 4; i++) {
      work.push(
        (async () => {
          while (!stop) {
            await coordinator
              .transaction({ a, b }, async ({ a: onA, b: onB }) => {
                await onA.query('SELECT 1')
                await onB.query('SELECT 1')
              })
              .catch(() => sleep(20))
          }
        })(),
      )
    }
  }
  await sleep(randomInt(31))
  await server.kill()
  await sleep(1500)
  stop = true
  await Promise.race([Promise.all(work), sleep(3000)])
  await Promise.all(instances.map((sql) => sql.end({ timeout: 0 }).catch(() => undefined)))
  await sleep(200)
  total += rejections.length
  if (rejections.length > 0) withRejection++
  if (rejections.some((reason) => (reason as { code?: unknown })?.code === 'CONNECTION_CLOSED')) {
    withClosed++
  }
  for (const reason of [...rejections, ...uncaught]) {
    const kind = String((reason as Error)?.message ?? reason).replace(
      /\d+\.\d+\.\d+\.\d+:\d+/,
      'host:port',
    )
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
    if (!stacks.has(kind)) stacks.set(kind, String((reason as Error)?.stack))
  }
  process.stdout.write(rejections.length > 0 ? 'R' : uncaught.length > 0 ? 'U' : '.')
  await server.restart()
}
await server.stop()
console.log(
  `\n${mode}: ${withRejection} of ${rounds} rounds had an unhandled rejection, ${withClosed} of them CONNECTION_CLOSED (${total} rejections in all)`,
)
for (const [kind, count] of kinds) console.log(`  ${count} × ${kind}`)
if (process.env.TXKIT_SHOW_STACKS !== undefined) {
  for (const [kind, stack] of stacks) console.log(`\n${kind}:\n${stack}`)
}
process.exit(0)
