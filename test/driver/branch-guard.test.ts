import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { PoolConnection as MariadbPoolConnection } from 'mariadb'
import type mysql from 'mysql2/promise'
import pg from 'pg'
import type postgres from 'postgres'
import { mysqlDriver, type OpenedDatabase, postgresDriver } from '../../harness/drivers.js'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../../harness/fixture.js'
import { UnconfirmedAnswer } from '../../src/dialect/dialect.js'
import type { DriverConnection } from '../../src/driver/driver-connection.js'
import {
  type BranchHandle,
  branchXid,
  type Database,
  isBranchTransactionEndedError,
  isTransactionControlRefusedError,
  isTransactionRolledBackError,
} from '../../src/index.js'
import { mysqlTransactionControl } from '../../src/mysql/mysql-dialect.js'
import { postgresDialect, postgresTransactionControl } from '../../src/postgres/postgres-dialect.js'

const servers = serversForFile()
const { fixture } = servers

describe('recognising transaction control in SQL text', () => {
  test('PostgreSQL: every spelling that ends, begins or hands over a transaction', () => {
    const refused: Array<[string, string]> = [
      ['COMMIT', 'COMMIT'],
      ['commit', 'COMMIT'],
      ['  \n\tCoMmIt WORK', 'COMMIT'],
      ['/* why */ -- note\n COMMIT', 'COMMIT'],
      ['/* nested /* comment */ still */ end', 'END'],
      ['begin isolation level serializable', 'BEGIN'],
      ['START TRANSACTION', 'START TRANSACTION'],
      ['rollback', 'ROLLBACK'],
      ['ROLLBACK AND CHAIN', 'ROLLBACK'],
      ['abort', 'ABORT'],
      ["PREPARE TRANSACTION 'x'", 'PREPARE TRANSACTION'],
      ["COMMIT PREPARED 'x'", 'COMMIT PREPARED'],
      ["ROLLBACK PREPARED 'x'", 'ROLLBACK PREPARED'],
      ['SELECT 1; COMMIT', 'COMMIT'],
      ["UPDATE t SET a = 'x;y'; commit;", 'COMMIT'],
      ['SELECT $$ ; $$; COMMIT', 'COMMIT'],
      ["SELECT E'it\\'s'; COMMIT", 'COMMIT'],
      ["SELECT 'a\\'; COMMIT; --'", 'COMMIT'],
      ['SELECT "commit"; COMMIT', 'COMMIT'],
    ]
    for (const [sql, expected] of refused) {
      assert.equal(postgresTransactionControl(sql), expected, sql)
    }
    const allowed = [
      'SELECT 1',
      "INSERT INTO t VALUES ('COMMIT; ROLLBACK')",
      'SELECT $tag$ COMMIT $tag$',
      "SELECT E'x\\'; COMMIT'",
      '-- COMMIT\nSELECT 1',
      '/* COMMIT */ SELECT 1',
      'SAVEPOINT s1',
      'RELEASE SAVEPOINT s1',
      'ROLLBACK TO SAVEPOINT s1',
      'rollback to s1',
      'ROLLBACK WORK TO SAVEPOINT s1',
      'ROLLBACK TRANSACTION TO s1',
      'PREPARE q AS SELECT 1',
      'SELECT "begin" FROM t',
      'SELECT $1::int',
      'UPDATE commits SET x = 1',
    ]
    for (const sql of allowed) assert.equal(postgresTransactionControl(sql), undefined, sql)
  })

  test('MySQL/MariaDB: transaction statements, XA, autocommit and implicit commits', () => {
    const refused: Array<[string, string]> = [
      ['COMMIT', 'COMMIT'],
      ['commit work', 'COMMIT'],
      ['# note\nBEGIN', 'BEGIN'],
      ['-- note\nrollback', 'ROLLBACK'],
      ['START TRANSACTION READ WRITE', 'START TRANSACTION'],
      ["XA END X'01'", 'XA END'],
      ['/*!40101 COMMIT */', 'COMMIT'],
      ['SET autocommit = 1', 'SET autocommit'],
      ['set @@session.autocommit=ON', 'SET autocommit'],
      ['SET SESSION autocommit := 1', 'SET autocommit'],
      ['SET @a = 1, autocommit = 1', 'SET autocommit'],
      ['CREATE TABLE t (a int)', 'CREATE TABLE (an implicit COMMIT)'],
      ['drop table t', 'DROP TABLE (an implicit COMMIT)'],
      ['TRUNCATE t', 'TRUNCATE (an implicit COMMIT)'],
      ['LOCK TABLES t WRITE', 'LOCK (an implicit COMMIT)'],
      ['ALTER TABLE t ADD b int', 'ALTER (an implicit COMMIT)'],
      ["SELECT 'it\\'s'; COMMIT", 'COMMIT'],
      ['SELECT `a;b`; COMMIT', 'COMMIT'],
    ]
    for (const [sql, expected] of refused) {
      assert.equal(mysqlTransactionControl(sql), expected, sql)
    }
    const allowed = [
      'SELECT 1',
      "INSERT INTO t VALUES ('COMMIT')",
      'SAVEPOINT s1',
      'ROLLBACK TO SAVEPOINT s1',
      'ROLLBACK WORK TO s1',
      'RELEASE SAVEPOINT s1',
      'CREATE TEMPORARY TABLE t (a int)',
      'DROP TEMPORARY TABLE t',
      'SET @x = 1',
      "SET @x = 'autocommit'",
      'SELECT @@autocommit',
      'SELECT 1 --1',
    ]
    for (const sql of allowed) assert.equal(mysqlTransactionControl(sql), undefined, sql)
  })
})

describe('PREPARE TRANSACTION command tags', () => {
  /** A session that answers every statement with the given command tag. */
  function answering(command: string | undefined): DriverConnection {
    return {
      query: async () => ({ rows: [], affectedRows: 0, ...(command && { command }) }),
      release: () => {},
      lost: false,
      raw: {},
      transactionStatus: () => 'open',
    }
  }

  test('only PREPARE or PREPARE TRANSACTION mean prepared, ROLLBACK rolled back, anything else is an error', async () => {
    assert.equal(await postgresDialect.prepare(answering('PREPARE'), 'x.1.0'), 'prepared')
    assert.equal(
      await postgresDialect.prepare(answering('PREPARE TRANSACTION'), 'x.1.0'),
      'prepared',
    )
    assert.equal(await postgresDialect.prepare(answering('ROLLBACK'), 'x.1.0'), 'rolled-back')
    for (const tag of ['SELECT', 'COMMIT', undefined]) {
      await assert.rejects(
        postgresDialect.prepare(answering(tag), 'x.1.0'),
        (error: unknown) => error instanceof UnconfirmedAnswer,
        String(tag),
      )
    }
  })

  test('an unexpected tag on a real server: the branch is rolled back by id, and the error names the tag', async () => {
    const [a, b] = await markedPair()
    // A pool whose clients report PREPARE TRANSACTION with a tag no driver uses.
    const odd = new pg.Pool({ connectionString: b.url, max: 4 })
    odd.on('error', () => {})
    odd.on('connect', (client) => {
      const query = client.query.bind(client) as (...args: unknown[]) => Promise<pg.QueryResult>
      ;(client as { query: unknown }).query = async (...args: unknown[]) => {
        const result = await query(...args)
        if (typeof args[0] === 'string' && args[0].includes('PREPARE TRANSACTION')) {
          const results = Array.isArray(result) ? [...result] : [result]
          const last = results.pop() as pg.QueryResult
          return [...results, { ...last, command: 'PREPARED?' }]
        }
        return result
      }
    })
    const { pgDatabase } = await import('../../src/postgres/node-postgres.js')
    const oddB = pgDatabase(odd, { name: 'b' })
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await coordinator.createDecisionLog()
    const caught = await coordinator
      .transaction({ a: a.db, b: oddB }, async ({ a, b }) => {
        await a.query(`INSERT INTO marks VALUES ('odd')`)
        await b.query(`INSERT INTO marks VALUES ('odd')`)
      })
      .catch((error: unknown) => error)
    await odd.end()
    assert.ok(isTransactionRolledBackError(caught), String(caught))
    assert.match(caught.message, /command tag "PREPARED\?"/)
    assert.deepEqual(await allMarks([a, b]), [[], []])
    assert.deepEqual(await pgPrepared(b.pool), [], 'the prepared branch was rolled back by its id')
  })
})

interface Member {
  readonly url: string
  readonly pool: pg.Pool
  readonly db: Database
  readonly driver: OpenedDatabase
}

async function markedPair(): Promise<[Member, Member]> {
  const members = await Promise.all(
    ['a', 'b'].map(async (name) => {
      const url = await servers.postgres.createDatabase()
      const { pool, db, driver } = fixture.pg(url, name)
      await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
      return { url, pool, db, driver }
    }),
  )
  return members as [Member, Member]
}

async function allMarks(members: ReadonlyArray<{ pool: pg.Pool }>): Promise<string[][]> {
  return Promise.all(
    members.map(async ({ pool }) =>
      (await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')).rows.map(
        (row) => row.tx,
      ),
    ),
  )
}

type Path = (branch: BranchHandle, sql: string) => Promise<unknown>

const client = (branch: BranchHandle) => branch.connection as pg.PoolClient
const reserved = (branch: BranchHandle) => branch.connection as postgres.ReservedSql

/** `sql` as the strings of a tagged template without values, as postgres.js receives them. */
function template(sql: string): TemplateStringsArray {
  return Object.assign([sql], { raw: [sql] }) as unknown as TemplateStringsArray
}

/** Every way a branch's statement can be sent, per driver: txkit's handle and the raw connection. */
const PATHS: Record<string, Path> = {
  'branch.query': (branch, sql) => branch.query(sql),
  'branch.execute': (branch, sql) => branch.execute(sql),
  ...(postgresDriver === 'node-postgres'
    ? {
        'branch.connection.query(text)': (branch, sql) => client(branch).query(sql),
        'branch.connection.query({ text })': (branch, sql) => client(branch).query({ text: sql }),
        'branch.connection.query(text, callback)': (branch, sql) =>
          new Promise((resolve, reject) =>
            client(branch).query(sql, (error: Error | null) =>
              error ? reject(error) : resolve(1),
            ),
          ),
      }
    : {
        'branch.connection`…`': async (branch, sql) => reserved(branch)(template(sql)),
        'branch.connection.unsafe(text)': async (branch, sql) => reserved(branch).unsafe(sql),
        'branch.connection.unsafe(text).simple()': async (branch, sql) =>
          reserved(branch).unsafe(sql).simple(),
      }),
}

describe('PostgreSQL: transaction control through what txkit hands out is refused', () => {
  test('COMMIT / BEGIN / ROLLBACK / END / PREPARE TRANSACTION on the decision and the other branch, then commit or throw', async () => {
    const [a, b] = await markedPair()
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await coordinator.createDecisionLog()
    const statements = [
      'COMMIT',
      'BEGIN',
      'rollback',
      '/* ORM */ END',
      "PREPARE TRANSACTION 'mine'",
      'SELECT 1; COMMIT',
    ]
    let n = 0
    for (const [pathName, send] of Object.entries(PATHS)) {
      for (const target of ['a', 'b'] as const) {
        for (const statement of statements) {
          for (const ending of ['commit', 'throw'] as const) {
            const mark = `m${++n}`
            const label = `${statement} via ${pathName} on ${target}, then ${ending}`
            const caught = await coordinator
              .transaction({ a: a.db, b: b.db }, async (branches) => {
                await branches.a.query('INSERT INTO marks VALUES ($1)', [mark])
                await branches.b.query('INSERT INTO marks VALUES ($1)', [mark])
                const refused = await send(branches[target], statement).then(
                  () => undefined,
                  (error: unknown) => error,
                )
                assert.ok(isTransactionControlRefusedError(refused), `${label}: ${String(refused)}`)
                assert.equal(refused.database, target)
                if (ending === 'throw') throw refused
              })
              .then(
                () => undefined,
                (error: unknown) => error,
              )
            const expected = ending === 'commit' ? [mark] : []
            const [inA, inB] = await allMarks([a, b])
            assert.deepEqual(
              [inA?.includes(mark), inB?.includes(mark)],
              [expected.length > 0, expected.length > 0],
              label,
            )
            if (ending === 'throw') assert.ok(isTransactionControlRefusedError(caught), label)
            else assert.equal(caught, undefined, label)
          }
        }
      }
    }
    for (const member of [a, b]) assert.deepEqual(await pgPrepared(member.pool), [])
  })

  test('the guarded connection is still the driver class, runs ordinary work and savepoints, and refuses release()', async () => {
    const [a, b] = await markedPair()
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await coordinator.createDecisionLog()
    await coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
      if (postgresDriver === 'node-postgres') {
        const raw = client(branches.b)
        assert.ok(raw instanceof pg.Client, 'instanceof pg.Client')
        await raw.query('INSERT INTO marks VALUES ($1)', ['kept'])
        await raw.query('SAVEPOINT s1')
        await raw.query({ text: 'INSERT INTO marks VALUES ($1)', values: ['undone'] })
        await raw.query('ROLLBACK TO SAVEPOINT s1')
        await raw.query('RELEASE SAVEPOINT s1')
        assert.throws(() => raw.release(), isTransactionControlRefusedError)
        assert.throws(() => raw.end(), isTransactionControlRefusedError)
      } else {
        const sql = reserved(branches.b)
        assert.equal(typeof sql, 'function', 'still the tagged-template function')
        await sql`INSERT INTO marks VALUES (${'kept'})`
        await sql`SAVEPOINT s1`
        await sql.unsafe('INSERT INTO marks VALUES ($1)', ['undone'])
        await sql`ROLLBACK TO SAVEPOINT s1`
        await sql`RELEASE SAVEPOINT s1`
        assert.throws(() => sql.release(), isTransactionControlRefusedError)
        assert.throws(() => sql.file('x.sql'), isTransactionControlRefusedError)
      }
      await branches.a.query('INSERT INTO marks VALUES ($1)', ['kept'])
    })
    assert.deepEqual(await allMarks([a, b]), [['kept'], ['kept']])
  })
})

describe('PostgreSQL: a branch ended behind txkit (its client reached another way) is detected', () => {
  for (const target of ['a', 'b'] as const) {
    for (const statement of ['COMMIT', 'ROLLBACK; BEGIN', 'COMMIT; BEGIN; COMMIT']) {
      for (const ending of ['commit', 'throw'] as const) {
        test(`${statement} on the ${target === 'a' ? 'decision' : 'other'} branch's raw client, then ${ending}`, async () => {
          const [a, b] = await markedPair()
          const coordinator = fixture.coordinator({ decisionLog: a.db })
          await coordinator.createDecisionLog()
          const { driver } = target === 'a' ? a : b
          const userError = new Error('the callback failed')
          const caught = await coordinator
            .transaction({ a: a.db, b: b.db }, async (branches) => {
              await branches.a.query(`INSERT INTO marks VALUES ('x')`)
              await branches.b.query(`INSERT INTO marks VALUES ('x')`)
              const session = driver.sessions.at(-1)
              assert.ok(session)
              await driver.sendRaw(session, statement)
              await branches[target].query(`INSERT INTO marks VALUES ('after')`)
              if (ending === 'throw') throw userError
            })
            .then(
              () => undefined,
              (error: unknown) => error,
            )
          assert.ok(isBranchTransactionEndedError(caught), String(caught))
          assert.deepEqual(caught.databases, [target])
          assert.match(caught.message, new RegExp(`"${target}".*may already be committed`))
          if (ending === 'throw') assert.equal(caught.cause, userError)
          const other = target === 'a' ? b : a
          const [otherMarks] = await allMarks([other])
          assert.deepEqual(otherMarks, [], 'the other branch was rolled back')
          for (const member of [a, b]) assert.deepEqual(await pgPrepared(member.pool), [])
          const [targetMarks] = await allMarks([target === 'a' ? a : b])
          // What the error warns of: the work sent before the stray COMMIT stays committed.
          // Work after a final stray COMMIT ran in autocommit; after a stray BEGIN it was rolled back.
          const expected = statement.endsWith('COMMIT')
            ? ['after', 'x']
            : statement.startsWith('COMMIT')
              ? ['x']
              : []
          assert.deepEqual(targetMarks, expected)
        })
      }
    }
  }
})

/** mysql2's callback connection under a promise connection, as far as these tests use it. */
interface CallbackConnection {
  query(sql: string, callback: (error: unknown) => void): void
  promise(): { query(sql: string): Promise<unknown> }
}

describe('MariaDB: transaction control is refused, and the XA state catches what slips through', () => {
  async function mixedPair() {
    const mariadb = servers.mariadb
    if (mariadb === undefined) return undefined
    const [pgUrl, myUrl] = await Promise.all([
      servers.postgres.createDatabase(),
      mariadb.createDatabase(),
    ])
    const p = fixture.pg(pgUrl, 'p')
    const m = await fixture.mysql(myUrl, 'm')
    await p.pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    return { p, m }
  }

  async function myMarks(pool: mysql.Pool): Promise<string[]> {
    const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks ORDER BY tx')
    return rows.map((row) => String(row.tx))
  }

  test('query, execute, commit(), beginTransaction(), the callback connection, on the decision and the other branch', async (t) => {
    const pair = await mixedPair()
    if (pair === undefined) return t.skip('no MariaDB')
    const { p, m } = pair
    const my = (b: BranchHandle) => b.connection as mysql.PoolConnection
    const maria = (b: BranchHandle) => b.connection as MariadbPoolConnection
    const sends: Record<string, (branch: BranchHandle) => Promise<unknown>> = {
      'branch.query(COMMIT)': (b) => b.query('COMMIT'),
      'branch.execute(/* c */ begin)': (b) => b.execute('/* c */ begin'),
      'branch.query(SELECT 1; ROLLBACK)': (b) => b.query('SELECT 1; ROLLBACK'),
      ...(mysqlDriver === 'mysql2'
        ? {
            'query(COMMIT)': (b) => my(b).query('COMMIT'),
            'execute({ sql: ROLLBACK })': (b) => my(b).execute({ sql: 'ROLLBACK' }),
            'query(CREATE TABLE)': (b) => my(b).query('CREATE TABLE other (a int)'),
            'query(SET autocommit=1)': (b) => my(b).query('SET autocommit = 1'),
            'commit()': (b) => my(b).commit(),
            'beginTransaction()': (b) => my(b).beginTransaction(),
            'release()': async (b) => my(b).release(),
            'connection.query(COMMIT, callback)': (b) =>
              new Promise((resolve, reject) =>
                (my(b).connection as unknown as CallbackConnection).query('COMMIT', (error) =>
                  error ? reject(error) : resolve(1),
                ),
              ),
            'connection.promise().query(XA END)': (b) =>
              (my(b).connection as unknown as CallbackConnection).promise().query(`XA END X'00'`),
          }
        : {
            'query(COMMIT)': (b) => maria(b).query('COMMIT'),
            'query({ sql: ROLLBACK })': (b) => maria(b).query({ sql: 'ROLLBACK' }),
            'execute(XA END …)': (b) => maria(b).execute(`XA END X'00'`),
            'batch(CREATE TABLE)': (b) => maria(b).batch('CREATE TABLE other (a int)', []),
            'query(SET autocommit=1)': (b) => maria(b).query('SET autocommit = 1'),
            'commit()': (b) => maria(b).commit(),
            'rollback()': (b) => maria(b).rollback(),
            'beginTransaction()': (b) => maria(b).beginTransaction(),
            'release()': (b) => maria(b).release(),
            'reset()': (b) => maria(b).reset(),
            'importFile()': (b) => maria(b).importFile({ file: 'x.sql' }),
            'queryStream(COMMIT)': async (b) => maria(b).queryStream('COMMIT'),
          }),
    }
    for (const decisionLog of [m.db, p.db]) {
      const coordinator = fixture.coordinator({ decisionLog })
      await coordinator.createDecisionLog()
      for (const [name, send] of Object.entries(sends)) {
        for (const ending of ['commit', 'throw'] as const) {
          const mark = `${decisionLog === m.db ? 'd' : 'o'}-${name}-${ending}`.slice(0, 60)
          const caught = await coordinator
            .transaction({ p: p.db, m: m.db }, async (branches) => {
              await branches.p.query('INSERT INTO marks VALUES ($1)', [mark])
              await branches.m.query('INSERT INTO marks VALUES (?)', [mark])
              const refused = await send(branches.m).then(
                () => undefined,
                (error: unknown) => error,
              )
              assert.ok(isTransactionControlRefusedError(refused), `${name}: ${String(refused)}`)
              if (ending === 'throw') throw refused
            })
            .then(
              () => undefined,
              (error: unknown) => error,
            )
          const committed = ending === 'commit'
          assert.equal((await myMarks(m.pool)).includes(mark), committed, `${name} ${ending}`)
          const inP = (await p.pool.query('SELECT 1 FROM marks WHERE tx = $1', [mark])).rowCount
          assert.equal(inP, committed ? 1 : 0, `${name} ${ending}`)
          if (!committed) assert.ok(isTransactionControlRefusedError(caught))
        }
      }
    }
    assert.deepEqual(await xaRecover(m.pool), [])
  })

  test('a raw COMMIT reaching the session is refused by the server in the XA ACTIVE state', async (t) => {
    const pair = await mixedPair()
    if (pair === undefined) return t.skip('no MariaDB')
    const { p, m } = pair
    for (const decisionLog of [m.db, p.db]) {
      const coordinator = fixture.coordinator({ decisionLog })
      await coordinator.createDecisionLog()
      const caught = await coordinator
        .transaction({ p: p.db, m: m.db }, async (branches) => {
          await branches.m.query(`INSERT INTO marks VALUES ('raw')`)
          await branches.p.query(`INSERT INTO marks VALUES ('raw')`)
          const answer = await m.driver.sendRaw(m.driver.sessions.at(-1), 'COMMIT').then(
            () => undefined,
            (error: { errno?: number }) => error,
          )
          assert.equal(answer?.errno, 1399, 'XAER_RMFAIL: not in the XA ACTIVE state')
          throw new Error('give up')
        })
        .catch((error: unknown) => error)
      assert.equal((caught as Error).message, 'give up')
      assert.deepEqual(await myMarks(m.pool), [])
    }
  })

  test('XA statements with txkit’s own id sent another way: the branch is reported ended, the rest rolled back', async (t) => {
    const pair = await mixedPair()
    if (pair === undefined) return t.skip('no MariaDB')
    const { p, m } = pair
    const coordinator = fixture.coordinator({ decisionLog: p.db })
    await coordinator.createDecisionLog()
    for (const ending of ['commit', 'throw'] as const) {
      const tx = await coordinator.begin({ p: p.db, m: m.db })
      await tx.branches.p.query(`INSERT INTO marks VALUES ('${ending}')`)
      await tx.branches.m.query(`INSERT INTO marks VALUES ('${ending}')`)
      const xid = Buffer.from(branchXid(tx.gtrid, 2, 1)).toString('hex')
      const session = m.driver.sessions.at(-1)
      await m.driver.sendRaw(session, `XA END X'${xid}'`)
      await m.driver.sendRaw(session, `XA COMMIT X'${xid}' ONE PHASE`)
      const caught = await (ending === 'commit' ? tx.commit() : tx.rollback()).then(
        () => undefined,
        (error: unknown) => error,
      )
      assert.ok(isBranchTransactionEndedError(caught), String(caught))
      assert.deepEqual(caught.databases, ['m'])
      assert.equal(tx.status, 'not-atomic')
      assert.ok((await myMarks(m.pool)).includes(ending), 'committed behind txkit, as warned')
      const inP = (await p.pool.query('SELECT 1 FROM marks WHERE tx = $1', [ending])).rowCount
      assert.equal(inP, 0, 'the PostgreSQL branch was rolled back')
    }
    assert.deepEqual(await xaRecover(m.pool), [])
    assert.deepEqual(await pgPrepared(p.pool), [])
  })
})
