import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import {
  createCoordinator,
  createTransactionManager,
  type Database,
  isConfigurationError,
  recover,
} from '../../src/index.js'
import { mysqlDatabase } from '../../src/mysql/mysql2.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

// No server is contacted: pools connect lazily, and every check here happens before any query.
const pool = new pg.Pool({ connectionString: 'postgres://app:s3cret@db1:5432/orders' })
const orders = pgDatabase(pool, { name: 'orders' })

function configurationError(pattern: RegExp) {
  return (error: unknown) => isConfigurationError(error) && pattern.test(error.message)
}

describe('configuration errors', () => {
  test('a coordinator refuses a bad prefix, naming the rule', () => {
    for (const prefix of ['', 'TOOLONGPREFIX', "x'; DROP TABLE marks; --", 'a b', 'über']) {
      assert.throws(
        () => createCoordinator({ prefix, decisionLog: orders }),
        configurationError(/Invalid deployment prefix .*1 to 8 lowercase letters/),
      )
    }
  })

  test('the decision protocol without a decision log says what to pass', () => {
    assert.throws(
      () => createCoordinator({}),
      configurationError(/needs a decision log: pass decisionLog/),
    )
    assert.ok(createCoordinator({ protocol: 'sequential' }))
  })

  test('an unknown protocol, a bad duration or a bad table name is refused', () => {
    assert.throws(
      () => createCoordinator({ decisionLog: orders, protocol: 'fast' as 'decision' }),
      configurationError(/Unknown protocol "fast"/),
    )
    for (const maxTransactionDuration of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      assert.throws(
        () => createCoordinator({ decisionLog: orders, maxTransactionDuration }),
        configurationError(/maxTransactionDuration must be a positive number/),
      )
    }
    for (const table of ['', 'a.b.c', 'bad-name', 'x"; drop table y; --', '1abc']) {
      assert.throws(
        () => createCoordinator({ decisionLog: { database: orders, table } }),
        configurationError(/Invalid decision log table name/),
      )
    }
    assert.ok(createCoordinator({ decisionLog: { database: orders, table: 'ops.decisions' } }))
  })

  test('an empty database set, or something that is not a database, is refused before any connection', async () => {
    const coordinator = createCoordinator({ decisionLog: orders })
    await assert.rejects(
      coordinator.begin({}),
      configurationError(/at least one database; none was given/),
    )
    await assert.rejects(
      coordinator.transaction({ orders, raw: pool as unknown as Database }, async () => {}),
      configurationError(/"raw" is not a txkit database: wrap the pool with pgDatabase/),
    )
    await assert.rejects(
      coordinator.begin(null as unknown as Record<string, Database>),
      configurationError(/record of names to databases/),
    )
    assert.equal(pool.totalCount, 0, 'no connection was opened')
  })

  test('database names are checked, pools are checked', () => {
    for (const name of ['', 'has space', 'x'.repeat(65), "o'brien", undefined]) {
      assert.throws(
        () => pgDatabase(pool, { name: name as string }),
        configurationError(/Invalid database name/),
      )
    }
    assert.throws(
      () => pgDatabase({} as pg.Pool, { name: 'x' }),
      configurationError(/needs a node-postgres Pool/),
    )
    assert.throws(
      () => mysqlDatabase({} as mysql.Pool, { name: 'x' }),
      configurationError(/needs a mysql2 pool/),
    )
  })

  test('identities never carry a password, and tell databases apart', () => {
    assert.equal(orders.identity, 'postgres://app@db1:5432/orders')
    const other = pgDatabase(
      new pg.Pool({ host: 'db1', port: 5432, database: 'ledger', user: 'app', password: 'pw' }),
      {
        name: 'ledger',
      },
    )
    assert.equal(other.identity, 'postgres://app@db1:5432/ledger')
    const myPool = mysql.createPool({ uri: 'mysql://root:hunter2@db2:3307/shop' })
    const shop = mysqlDatabase(myPool, { name: 'shop' })
    assert.equal(shop.identity, 'mysql://root@db2:3307/shop')
    const callbackStyle = mysqlDatabase(
      // A callback pool is accepted through its .promise().
      { promise: () => myPool } as unknown as mysql.Pool,
      { name: 'shop2' },
    )
    assert.equal(callbackStyle.identity, shop.identity)
    void myPool.end()
  })
})

describe('unknown option names are refused everywhere, naming the nearest valid one', () => {
  const unknown = (name: string, nearest: string) =>
    configurationError(new RegExp(`Unknown option "${name}" .*did you mean "${nearest}"\\?`))

  test('createCoordinator, createTransactionManager, the decision log', () => {
    assert.throws(
      () => createCoordinator({ prefx: 'billing', decisionLog: orders } as never),
      unknown('prefx', 'prefix'),
    )
    assert.throws(
      () => createTransactionManager({ explict: true, decisionLog: orders } as never),
      unknown('explict', 'explicit'),
    )
    assert.throws(
      () => createCoordinator({ decisionLog: { database: orders, tabel: 'd' } as never }),
      unknown('tabel', 'table'),
    )
    assert.throws(
      () => createCoordinator({ decisionLog: orders, maxTransactionDurationMs: 5 } as never),
      unknown('maxTransactionDurationMs', 'maxTransactionDuration'),
    )
  })

  test('recover(), pgDatabase(), mysqlDatabase()', async () => {
    await assert.rejects(
      recover({ databases: [orders], decisionlog: orders } as never),
      unknown('decisionlog', 'decisionLog'),
    )
    await assert.rejects(
      recover({ databases: [orders], decisionLog: orders, minage: 0 } as never),
      unknown('minage', 'minAge'),
    )
    assert.throws(() => pgDatabase(pool, { nmae: 'x' } as never), unknown('nmae', 'name'))
    const mysqlPool = mysql.createPool({ uri: 'mysql://app:s3cret@db2:3306/ledger' })
    assert.throws(
      () => mysqlDatabase(mysqlPool, { name: 'ledger', nme: 'x' } as never),
      unknown('nme', 'name'),
    )
    await mysqlPool.end()
  })

  test('manager.retry() and manager.attempts()', async () => {
    const manager = createTransactionManager({ decisionLog: orders })
    await assert.rejects(
      manager.retry(async () => 1, { attempt: 5 } as never),
      unknown('attempt', 'attempts'),
    )
    await assert.rejects(
      manager.attempts(3, { attempts: 5 } as never).next(),
      configurationError(/Unknown option "attempts" .*first argument of attempts/),
    )
    await manager.close()
  })

  test('a name far from every valid one still lists them', () => {
    assert.throws(
      () => createCoordinator({ decisionLog: orders, zzzzzz: 1 } as never),
      configurationError(
        /Unknown option "zzzzzz" for createCoordinator\(\)\. Known options: decisionLog, decisionDatabases, prefix/,
      ),
    )
  })
})
