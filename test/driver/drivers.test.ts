/**
 * What differs between drivers of one database, tested with every driver whatever the pass: the
 * connection a branch hands out, postgres.js's pipelining, the mariadb connector's answers, mixing
 * drivers in one transaction, the sessions the runner is lent, and the types users write against.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import mariadb from 'mariadb'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import postgres from 'postgres'
import { openMysql, openPostgres } from '../../harness/drivers.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../../harness/fixture.js'
import { LatencyProxy } from '../../harness/latency-proxy.js'
import { PostgresServer } from '../../harness/postgres-server.js'
import { waitFor, within } from '../../harness/wait-for.js'
import { withConnection } from '../../src/database/with-connection.js'
import {
  createCoordinator,
  createLock,
  createRunner,
  createTransactionManager,
  type Database,
  isConfigurationError,
  isDecisionLogMissingError,
  isTransactionControlRefusedError,
} from '../../src/index.js'
import { mariadbDatabase, mariadbSession, mysqlDialect } from '../../src/mysql/mariadb.js'
import { mysqlDatabase } from '../../src/mysql/mysql2.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'
import { postgresDialect } from '../../src/postgres/postgres-dialect.js'
import { postgresJsDatabase, postgresJsSession } from '../../src/postgres/postgres-js.js'

const servers = serversForFile()
const { fixture } = servers

async function markedPostgres(name: string) {
  const url = await servers.postgres.createDatabase()
  const { pool } = fixture.pg(url, name)
  await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  return { url, pool }
}

async function pgMarks(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => row.tx)
}

async function myMarks(pool: mysql.Pool): Promise<string[]> {
  const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => String(row.tx))
}

describe('postgres.js', () => {
  test('branch.connection is the reserved sql: tagged templates run in the branch, release() is refused', async () => {
    const a = await markedPostgres('a')
    const b = await markedPostgres('b')
    const sqlA = postgres(a.url, { max: 4, onnotice: () => {} })
    const sqlB = postgres(b.url, { max: 4, onnotice: () => {} })
    try {
      const coordinator = fixture.coordinator({
        decisionLog: postgresJsDatabase(sqlA, { name: 'a' }),
      })
      await coordinator.createDecisionLog()
      const databases = {
        a: postgresJsDatabase(sqlA, { name: 'a' }),
        b: postgresJsDatabase(sqlB, { name: 'b' }),
      }
      await coordinator.transaction(databases, async ({ a, b }) => {
        const inA: postgres.ReservedSql = a.connection
        await inA`INSERT INTO marks VALUES (${'tagged'})`
        await b.connection.unsafe('INSERT INTO marks VALUES ($1)', ['unsafe'])
        assert.throws(() => b.connection.release(), isTransactionControlRefusedError)
        await assert.rejects(async () => b.connection`COMMIT`, isTransactionControlRefusedError)
      })
      assert.deepEqual(await pgMarks(a.pool), ['tagged'])
      assert.deepEqual(await pgMarks(b.pool), ['unsafe'])
      const failed = await coordinator
        .transaction(databases, async ({ a, b }) => {
          await a.connection`INSERT INTO marks VALUES ('thrown')`
          await b.connection`INSERT INTO marks VALUES ('thrown')`
          throw new Error('no')
        })
        .catch((error: unknown) => error)
      assert.equal((failed as Error).message, 'no', 'the callback’s error, rethrown as it is')
      assert.deepEqual(await pgMarks(a.pool), ['tagged'])
      assert.deepEqual(await pgMarks(b.pool), ['unsafe'])
      assert.deepEqual(await pgPrepared(b.pool), [])
      // Every reserved connection went back: the pools still serve plain queries.
      assert.deepEqual([...(await sqlA`SELECT 1 AS one`)], [{ one: 1 }])
      assert.deepEqual([...(await sqlB`SELECT 1 AS one`)], [{ one: 1 }])
    } finally {
      await Promise.all([sqlA.end({ timeout: 1 }), sqlB.end({ timeout: 1 })])
    }
  })

  test('a branch’s BEGIN travels with its first statement: one round trip fewer than node-postgres', async () => {
    const a = await markedPostgres('a')
    const target = new URL(a.url)
    // Round trips are counted from the protocol's messages through the proxy, not timed: its
    // delay only makes the server's answers come late, as over a network.
    const proxy = await LatencyProxy.start(Number(target.port), 30, { protocol: 'postgres' })
    target.hostname = '127.0.0.1'
    target.port = String(proxy.port)
    const viaPg = openPostgres(target.toString(), 'a', 2, 'node-postgres')
    const viaJs = openPostgres(target.toString(), 'a', 2, 'postgres-js')
    try {
      /**
       * Round trips to begin a branch, run one INSERT in it and roll it back, on a warm session
       * whose driver has seen the INSERT before (postgres.js describes a statement's parameters
       * once per connection, then reuses the prepared statement).
       */
      async function branchRoundTrips(db: Database, mark: string): Promise<number> {
        const connection = await db.acquire()
        await db.dialect.begin(connection, `warm.${mark}`)
        await connection.query('INSERT INTO marks VALUES ($1)', [`warm-${mark}`])
        await db.dialect.rollbackActive(connection, `warm.${mark}`)
        const before = proxy.roundTrips
        await db.dialect.begin(connection, `rt.${mark}`)
        await connection.query('INSERT INTO marks VALUES ($1)', [mark])
        await db.dialect.rollbackActive(connection, `rt.${mark}`)
        const trips = proxy.roundTrips - before
        connection.release(false)
        return trips
      }
      // node-postgres: BEGIN, INSERT, ROLLBACK = 3 round trips; postgres.js: BEGIN+INSERT, ROLLBACK.
      assert.equal(await branchRoundTrips(viaPg.db, 'pg'), 3, 'node-postgres')
      assert.equal(await branchRoundTrips(viaJs.db, 'js'), 2, 'postgres.js')
      assert.deepEqual(await pgMarks(a.pool), [], 'both rolled back')
    } finally {
      await viaPg.close()
      await viaJs.close()
      await proxy.stop()
    }
  })

  test('a failing first statement after a pipelined BEGIN leaves nothing committed and the pool usable', async () => {
    const a = await markedPostgres('a')
    const sql = postgres(a.url, { max: 1, onnotice: () => {} })
    try {
      const db = postgresJsDatabase(sql, { name: 'a' })
      const coordinator = fixture.coordinator({ decisionLog: db })
      await coordinator.createDecisionLog()
      const caught = await coordinator
        .transaction({ a: db }, async ({ a }) => {
          await a.query('INSERT INTO marks VALUES ($1)', ['kept?'])
          await a.query('INSERT INTO no_such_table VALUES (1)')
        })
        .catch((error: unknown) => error)
      assert.equal((caught as { code?: string }).code, '42P01')
      assert.deepEqual(await pgMarks(a.pool), [])
      // The only connection of the pool came back in a clean state.
      assert.deepEqual([...(await sql`SELECT 1 AS one`)], [{ one: 1 }])
      await coordinator.transaction({ a: db }, async ({ a }) => {
        await a.query('INSERT INTO marks VALUES ($1)', ['after'])
      })
      assert.deepEqual(await pgMarks(a.pool), ['after'])
    } finally {
      await sql.end({ timeout: 1 })
    }
  })

  test('a reservation queued while a connection of the pool dies is not stranded (porsager/postgres#1195)', async () => {
    const a = await markedPostgres('a')
    const sql = postgres(a.url, { max: 1, onnotice: () => {} })
    try {
      const db = postgresJsDatabase(sql, { name: 'a' })
      const first = await db.acquire()
      await first.query('SELECT 1')
      const { rows } = await first.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      // The pool's only connection is taken: this acquire queues inside postgres.js.
      const second = db.acquire()
      await new Promise((resolve) => setTimeout(resolve, 50))
      await a.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
      const started = performance.now()
      const connection = await second
      assert.ok(performance.now() - started < 5000, 'served once the dead connection was replaced')
      assert.equal(first.lost, true)
      first.release(true)
      const { rows: answer } = await connection.query<{ one: number }>('SELECT 1 AS one')
      assert.deepEqual(answer, [{ one: 1 }])
      connection.release(false)
    } finally {
      await sql.end({ timeout: 1 })
    }
  })

  test('a statement on a reserved connection whose backend died is refused, never written to a dead or reused socket (porsager/postgres#1208)', async () => {
    const a = await markedPostgres('a')
    const sql = postgres(a.url, { max: 1, onnotice: () => {} })
    try {
      const db = postgresJsDatabase(sql, { name: 'a' })
      const coordinator = fixture.coordinator({ decisionLog: db })
      await coordinator.createDecisionLog()

      // txkit's own statement, on a branch connection that died while idle.
      const held = await db.acquire()
      const { rows } = await held.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      await a.pool.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
      await waitFor('postgres.js to hear of the close', 5000, async () => held.lost)
      // The pool's only connection now serves the pool again, on a new session.
      const [fresh] = await sql`SELECT pg_backend_pid() AS pid`
      assert.notEqual(fresh?.pid, rows[0]?.pid)
      const refused = await held.query('SELECT pg_backend_pid() AS pid').catch((e: unknown) => e)
      assert.ok(postgresDialect.isConnectionLost(refused), `answered ${JSON.stringify(refused)}`)
      held.release(true)

      // The user's statement through branch.connection, after the branch's backend died.
      const caught = await coordinator
        .transaction({ a: db }, async ({ a: branch }) => {
          await branch.connection`INSERT INTO marks VALUES ('before')`
          const [row] = await branch.connection`SELECT pg_backend_pid() AS pid`
          await a.pool.query('SELECT pg_terminate_backend($1)', [row?.pid])
          // The pool's next query waits for its only connection, which postgres.js serves again
          // (on a new session) once it has heard of the close: the event, not a guessed delay.
          const [fresh] = await within(
            'postgres.js to hear of the close',
            10_000,
            sql`SELECT pg_backend_pid() AS pid`,
          )
          assert.notEqual(fresh?.pid, row?.pid)
          await branch.connection`INSERT INTO marks VALUES ('after')`
        })
        .catch((error: unknown) => error)
      // The work's own error comes back, as for any statement that fails: nothing is committed.
      assert.equal((caught as { code?: string }).code, '08003', String(caught))
      assert.match(String(caught), /session of this postgres.js reserved connection ended/)
      assert.deepEqual(await pgMarks(a.pool), [])
      assert.deepEqual(await pgPrepared(a.pool), [])
      assert.deepEqual([...(await sql`SELECT 1 AS one`)], [{ one: 1 }])
    } finally {
      await sql.end({ timeout: 1 })
    }
  })

  test('with its server gone, every acquire fails with the connection error: none is left waiting in postgres.js', async () => {
    const server = await PostgresServer.start()
    const sql = postgres(server.url(), { max: 4, onnotice: () => {} })
    try {
      const db = postgresJsDatabase(sql, { name: 'a' })
      const held: Array<Awaited<ReturnType<typeof db.acquire>>> = []
      for (let i = 0; i < 4; i++) {
        const connection = await db.acquire()
        await connection.query('SELECT 1')
        held.push(connection)
      }
      // The server dies under a pool all in use.
      await server.kill()
      await waitFor('every connection to be seen lost', 5000, async () =>
        held.every((connection) => connection.lost),
      )
      for (const connection of held) connection.release(true)
      const started = performance.now()
      // More acquires than connections, a few at a time: postgres.js queues some behind the
      // failing reconnects and never answers them.
      const answers = await Promise.all(
        Array.from({ length: 12 }, async (_, index) => {
          await new Promise((resolve) => setTimeout(resolve, (index % 3) * 50))
          const waited = new Promise((resolve) =>
            setTimeout(() => resolve('still waiting'), 20_000),
          )
          return Promise.race([
            db.acquire().then(
              () => 'served',
              (error: unknown) => (error as { code?: string }).code,
            ),
            waited,
          ])
        }),
      )
      assert.deepEqual(answers, Array(12).fill('ECONNREFUSED'))
      assert.ok(performance.now() - started < 15_000, `${performance.now() - started} ms`)
    } finally {
      await sql.end({ timeout: 1 })
      await server.stop()
    }
  })

  test('a decision table lost after the first commit: the pipelined decision row fails the work, nothing commits', async () => {
    const a = await markedPostgres('a')
    const b = await markedPostgres('b')
    const sqlA = postgres(a.url, { max: 4, onnotice: () => {} })
    const sqlB = postgres(b.url, { max: 4, onnotice: () => {} })
    try {
      const databases = {
        a: postgresJsDatabase(sqlA, { name: 'a' }),
        b: postgresJsDatabase(sqlB, { name: 'b' }),
      }
      const coordinator = fixture.coordinator({ decisionLog: databases.a })
      await coordinator.createDecisionLog()
      const write = (mark: string) =>
        coordinator.transaction(databases, async ({ a, b }) => {
          await b.query('INSERT INTO marks VALUES ($1)', [mark])
          await a.query('INSERT INTO marks VALUES ($1)', [mark])
        })
      await write('first')
      await a.pool.query('ALTER TABLE txkit_decision RENAME TO txkit_decision_gone')
      const caught = await write('second').catch((error: unknown) => error)
      // Thrown by the decision branch's first statement, which travelled with the failed INSERT.
      assert.ok(isDecisionLogMissingError(caught), String(caught))
      assert.deepEqual(await pgMarks(a.pool), ['first'])
      assert.deepEqual(await pgMarks(b.pool), ['first'])
      assert.deepEqual(await pgPrepared(b.pool), [])
    } finally {
      await Promise.all([sqlA.end({ timeout: 1 }), sqlB.end({ timeout: 1 })])
    }
  })

  test('the runner works on a reserved connection held in a transaction, in savepoints', async () => {
    const a = await markedPostgres('a')
    const sql = postgres(a.url, { max: 2, onnotice: () => {} })
    const reserved = await sql.reserve()
    try {
      await reserved`BEGIN`
      await reserved`INSERT INTO marks VALUES ('outer')`
      await createRunner({ initialDelay: 1 }).run(
        postgresJsSession(reserved),
        async (s, { attempt }) => {
          await s`INSERT INTO marks VALUES (${`attempt-${attempt}`})`
          if (attempt === 1) throw Object.assign(new Error('serialization'), { code: '40001' })
        },
      )
      await reserved`COMMIT`
      assert.deepEqual(await pgMarks(a.pool), ['attempt-2', 'outer'])
    } finally {
      reserved.release()
      await sql.end({ timeout: 1 })
    }
  })

  test('anything but a postgres.js instance is refused with the fix', () => {
    assert.throws(
      () => postgresJsDatabase({} as never, { name: 'a' }),
      (e: unknown) => isConfigurationError(e) && /postgres\(url\) from 'postgres'/.test(e.message),
    )
    assert.throws(
      () => postgresJsDatabase(postgres({ max: 1 }), { name: 'a', nmae: 'b' } as never),
      (e: unknown) => isConfigurationError(e) && /Unknown option "nmae"/.test(e.message),
    )
  })
})

describe('the mariadb connector', () => {
  test('the database identity comes from the server; two pools on one database share a branch', async (t) => {
    const server = servers.mariadb
    if (server === undefined) return t.skip('no MariaDB')
    const url = await server.createDatabase()
    const { pool } = await fixture.mysql(url, 'm')
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const first = await openMysql(url, 'm', 4, 'mariadb')
    const second = await openMysql(url, 'm', 4, 'mariadb')
    try {
      const database = new URL(url).pathname.slice(1)
      assert.match(first.db.identity, new RegExp(`^mysql://root@[^:]+:\\d+/${database}$`))
      assert.equal(first.db.identity, second.db.identity)
      const decisions = await markedPostgres('d')
      const coordinator = fixture.coordinator({ decisionLog: fixture.pg(decisions.url, 'd').db })
      await coordinator.createDecisionLog()
      const result = await coordinator.transaction(
        { m1: first.db, m2: second.db },
        async ({ m1, m2 }) => {
          await m1.query('INSERT INTO marks VALUES (?)', ['one'])
          await m2.query('INSERT INTO marks VALUES (?)', ['two'])
          return m1.names
        },
      )
      assert.deepEqual([...result].sort(), ['m1', 'm2'], 'one branch under both names')
      assert.deepEqual(await myMarks(pool), ['one', 'two'])
    } finally {
      await first.close()
      await second.close()
    }
  })

  test('XA RECOVER answers Buffers and BigInts: prepared branches are still read as txkit ids', async (t) => {
    const server = servers.mariadb
    if (server === undefined) return t.skip('no MariaDB')
    const url = await server.createDatabase()
    const { pool } = await fixture.mysql(url, 'm')
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const opened = await openMysql(url, 'm', 4, 'mariadb')
    try {
      const xid = 'drv.0123456789abcdefghijklmno.d.1.0'
      // As a coordinator does: prepare, then close the session (MariaDB keeps the branch attached
      // to an open one).
      const preparing = await opened.db.acquire()
      await opened.db.dialect.begin(preparing, xid)
      await preparing.query('INSERT INTO marks VALUES (?)', ['prepared'])
      assert.equal(await opened.db.dialect.prepare(preparing, xid), 'prepared')
      preparing.release(true)
      const seen = await withConnection(opened.db, (session) => mysqlDialect.listPrepared(session))
      assert.ok(
        seen.some((prepared) => prepared.xid === xid),
        JSON.stringify(seen),
      )
      assert.ok((await xaRecover(pool)).includes(xid))
      await withConnection(opened.db, async (session) => {
        assert.equal(await mysqlDialect.rollbackPrepared(session, xid), 'done')
      })
      assert.ok(!(await xaRecover(pool)).includes(xid))
      assert.deepEqual(await myMarks(pool), [], 'rolled back')
    } finally {
      await opened.close()
    }
  })

  test('mariadbDatabase needs a connector pool and a reachable server, and says so', async () => {
    await assert.rejects(
      mariadbDatabase({} as never, { name: 'm' }),
      (e: unknown) => isConfigurationError(e) && /createPool from 'mariadb'/.test(e.message),
    )
    const unreachable = mariadb.createPool({
      host: '127.0.0.1',
      port: 1,
      connectionLimit: 1,
      acquireTimeout: 2000,
    })
    try {
      await assert.rejects(mariadbDatabase(unreachable, { name: 'm' }))
    } finally {
      await unreachable.end()
    }
  })

  test('the runner works on a connector connection held in a transaction', async (t) => {
    const server = servers.mariadb
    if (server === undefined) return t.skip('no MariaDB')
    const url = await server.createDatabase()
    const { pool } = await fixture.mysql(url, 'm')
    await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const parsed = new URL(url)
    const connectorPool = mariadb.createPool({
      host: parsed.hostname,
      port: Number(parsed.port),
      user: parsed.username,
      database: parsed.pathname.slice(1),
      connectionLimit: 2,
    })
    const connection = await connectorPool.getConnection()
    try {
      await connection.beginTransaction()
      await connection.query("INSERT INTO marks VALUES ('outer')")
      await createRunner({ initialDelay: 1 }).run(
        mariadbSession(connection),
        async (c, { attempt }) => {
          await c.query('INSERT INTO marks VALUES (?)', [`attempt-${attempt}`])
          if (attempt === 1) throw Object.assign(new Error('Deadlock found'), { errno: 1205 })
        },
      )
      await connection.commit()
      assert.deepEqual(await myMarks(pool), ['attempt-2', 'outer'])
    } finally {
      await connection.release()
      await connectorPool.end()
    }
  })
})

describe('mixing drivers', () => {
  test('node-postgres, postgres.js, mysql2 and the mariadb connector in one transaction: all or nothing', async (t) => {
    const server = servers.mariadb
    if (server === undefined) return t.skip('no MariaDB')
    const [p1, p2] = [await markedPostgres('p1'), await markedPostgres('p2')]
    const [m1Url, m2Url] = [await server.createDatabase(), await server.createDatabase()]
    const m1 = await fixture.mysql(m1Url, 'm1')
    const m2 = await fixture.mysql(m2Url, 'm2')
    for (const m of [m1, m2]) {
      await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    }
    const viaPg = openPostgres(p1.url, 'p1', 4, 'node-postgres')
    const viaJs = openPostgres(p2.url, 'p2', 4, 'postgres-js')
    const viaMysql2 = await openMysql(m1Url, 'm1', 4, 'mysql2')
    const viaConnector = await openMysql(m2Url, 'm2', 4, 'mariadb')
    try {
      const databases = { p1: viaPg.db, p2: viaJs.db, m1: viaMysql2.db, m2: viaConnector.db }
      for (const decisionLog of [viaJs.db, viaConnector.db]) {
        const coordinator = createCoordinator({ decisionLog })
        try {
          await coordinator.createDecisionLog()
          const mark = `mixed-${decisionLog.name}`
          await coordinator.transaction(databases, async (branches) => {
            await branches.p1.query('INSERT INTO marks VALUES ($1)', [mark])
            await branches.p2.query('INSERT INTO marks VALUES ($1)', [mark])
            await branches.m1.query('INSERT INTO marks VALUES (?)', [mark])
            await branches.m2.query('INSERT INTO marks VALUES (?)', [mark])
          })
          const thrown = await coordinator
            .transaction(databases, async (branches) => {
              await branches.p1.query('INSERT INTO marks VALUES ($1)', ['thrown'])
              await branches.p2.query('INSERT INTO marks VALUES ($1)', ['thrown'])
              await branches.m1.query('INSERT INTO marks VALUES (?)', ['thrown'])
              await branches.m2.query('INSERT INTO marks VALUES (?)', ['thrown'])
              throw new Error('changed my mind')
            })
            .catch((error: unknown) => error)
          assert.equal((thrown as Error).message, 'changed my mind')
        } finally {
          await coordinator.close()
        }
      }
      const expected = ['mixed-m2', 'mixed-p2']
      assert.deepEqual(await pgMarks(p1.pool), expected)
      assert.deepEqual(await pgMarks(p2.pool), expected)
      assert.deepEqual(await myMarks(m1.pool), expected)
      assert.deepEqual(await myMarks(m2.pool), expected)
      assert.deepEqual(await pgPrepared(p1.pool), [])
      assert.deepEqual(await pgPrepared(p2.pool), [])
      assert.deepEqual(await xaRecover(m1.pool), [])
    } finally {
      await Promise.all([viaPg, viaJs, viaMysql2, viaConnector].map((opened) => opened.close()))
    }
  })
})

/** True when A and B are the same type (`any` equals only `any`). */
type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false

describe('types', () => {
  test('branch.connection is the driver’s own class; raw pools, empty sets and MySQL shared locks do not compile', () => {
    // Compile-time checks: `tsc` (npm test builds first) fails if any line below stops holding.
    const typed = async (pool: pg.Pool, sql: postgres.Sql, my: mysql.Pool) => {
      const coordinator = createCoordinator({ decisionLog: pgDatabase(pool, { name: 'a' }) })
      await coordinator.transaction(
        {
          a: pgDatabase(pool, { name: 'a' }),
          b: postgresJsDatabase(sql, { name: 'b' }),
          c: mysqlDatabase(my, { name: 'c' }),
        },
        async ({ a, b, c }) => {
          // Exact types, not merely assignable ones (an `any` would pass an assignment).
          const exact: [
            Equal<typeof a.connection, pg.PoolClient>,
            Equal<typeof b.connection, postgres.ReservedSql>,
            Equal<typeof c.connection, mysql.PoolConnection>,
          ] = [true, true, true]
          return exact
        },
      )
      // @ts-expect-error a transaction over no database at all
      await coordinator.transaction({}, async () => undefined)
      // @ts-expect-error a raw pool must be wrapped first
      await createRunner().run(pool, async () => undefined)
      createLock(pgDatabase(pool, { name: 'a' }), 'k', { mode: 'shared' })
      // @ts-expect-error MySQL and MariaDB locks are exclusive only
      createLock(mysqlDatabase(my, { name: 'c' }), 'k', { mode: 'shared' })
      const manager = createTransactionManager({ decisionLog: pgDatabase(pool, { name: 'a' }) })
      await manager.run(async (tx) => {
        await tx.lock(pgDatabase(pool, { name: 'a' }), 'k', { mode: 'shared' })
        // @ts-expect-error the same in a managed transaction
        await tx.lock(mysqlDatabase(my, { name: 'c' }), 'k', { mode: 'shared' })
      })
      // @ts-expect-error a raw pool must be wrapped first
      createLock(pool, 'k')
    }
    assert.equal(typeof typed, 'function')
  })
})
