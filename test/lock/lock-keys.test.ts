import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import {
  createLock,
  isConfigurationError,
  type LockKeySpace,
  lockIdentifier,
  withLock,
} from '../../src/index.js'
import { mysqlDatabase } from '../../src/mysql/mysql2.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

const INT64: LockKeySpace = { kind: 'int64' }
const INT30: LockKeySpace = { kind: 'int30' }
const MYSQL_NAME: LockKeySpace = { kind: 'name', maxLength: 64 }

// Expected values computed with Python's hashlib (blake2b, sha256), independently of txkit's code.
const VECTORS = [
  {
    key: 'my-resource-key',
    txkitPg: 8715444503510041159n,
    txkitOracle: 955480729n,
    dlockPg: -8735762693110921056n,
    dlockOracle: 453216416n,
  },
  {
    key: 'billing:user:42',
    txkitPg: 201281447392322503n,
    txkitOracle: 46864488n,
    dlockPg: 8938823428914737802n,
    dlockOracle: 912716426n,
  },
  {
    key: 'é-ünïcödé-🔒',
    txkitPg: -5729264856857707372n,
    txkitOracle: 813535223n,
    dlockPg: -310983760074402153n,
    dlockOracle: 970561175n,
  },
  {
    key: 'x'.repeat(200),
    txkitPg: -6187732315624340672n,
    txkitOracle: 706789950n,
    dlockPg: -8241175984535228330n,
    dlockOracle: 239874134n,
  },
]

describe('lock keys', () => {
  test('string keys hash to fixed values: txkit (SHA-256) and sqlalchemy-dlock (BLAKE2b, little-endian)', () => {
    for (const vector of VECTORS) {
      assert.equal(lockIdentifier(vector.key, INT64), vector.txkitPg, vector.key)
      assert.equal(lockIdentifier(vector.key, INT30), vector.txkitOracle, vector.key)
      const dlock = { keyMapping: 'sqlalchemy-dlock' } as const
      assert.equal(lockIdentifier(vector.key, INT64, dlock), vector.dlockPg, vector.key)
      assert.equal(lockIdentifier(vector.key, INT30, dlock), vector.dlockOracle, vector.key)
    }
  })

  test('integer keys are used as they are; sqlalchemy-dlock takes Oracle integers modulo 2^30', () => {
    assert.equal(lockIdentifier(42, INT64), 42n)
    assert.equal(lockIdentifier(-(2n ** 63n), INT64), -(2n ** 63n))
    assert.equal(lockIdentifier(7, MYSQL_NAME), '7')
    assert.equal(lockIdentifier(2n ** 40n, MYSQL_NAME), '1099511627776')
    const dlock = { keyMapping: 'sqlalchemy-dlock' } as const
    assert.equal(lockIdentifier(-5, INT30, dlock), 1073741819n)
    assert.equal(lockIdentifier(1073741824 + 7, INT30, dlock), 7n)
    assert.throws(() => lockIdentifier(1073741824, INT30), /outside Oracle DBMS_LOCK's range/)
  })

  test('named locks: the string itself up to the limit, counted in characters; longer ones refused or hashed', () => {
    assert.equal(lockIdentifier('🔒'.repeat(64), MYSQL_NAME), '🔒'.repeat(64))
    assert.throws(
      () => lockIdentifier('k'.repeat(65), MYSQL_NAME),
      (e: unknown) =>
        isConfigurationError(e) &&
        /65 characters long.*at most 64.*longKeys: 'hash'/.test(e.message),
    )
    const hashed = lockIdentifier('k'.repeat(65), MYSQL_NAME, { longKeys: 'hash' })
    assert.equal(hashed, 'h:f39cdc2584758c99cf81c1f41d2572f54e17066afffc9d187aeafe5f7cbe21')
    assert.equal((hashed as string).length, 64)
  })

  test('bad keys are configuration errors that say what is wrong', () => {
    const cases: Array<[unknown, RegExp]> = [
      ['', /empty string/],
      [Number.NaN, /safe integer, not NaN/],
      [1.5, /safe integer, not 1\.5/],
      [2 ** 60, /bigint for integers beyond 2\^53/],
      [Number.POSITIVE_INFINITY, /safe integer/],
      [2n ** 63n, /outside PostgreSQL's range/],
      [{ id: 1 }, /string, a safe integer or a bigint, not object/],
      [true, /not boolean/],
      [null, /not null/],
      ['\ud800x', /unpaired UTF-16 surrogate/],
    ]
    for (const [key, message] of cases) {
      assert.throws(
        () => lockIdentifier(key, INT64),
        (e: unknown) => isConfigurationError(e) && message.test(e.message),
        String(key),
      )
    }
    assert.throws(() => lockIdentifier('a', INT64, { keyMapping: 'python' as never }), /keyMapping/)
  })

  test('options a database cannot honour, and misspelt options, are refused before any connection', async () => {
    // Neither pool can connect: every refusal below happens before a session is asked for.
    const rawPg = new pg.Pool({ host: '127.0.0.1', port: 1 })
    const rawMysql = mysql.createPool({ host: '127.0.0.1', port: 1 })
    const pgPool = pgDatabase(rawPg, { name: 'p' })
    const mysqlPool = mysqlDatabase(rawMysql, { name: 'm' })
    try {
      const refusals: Array<[() => unknown, RegExp]> = [
        [
          // The type refuses it too (see drivers.test.ts); a JavaScript caller is refused at run time.
          () => createLock(mysqlPool, 'k', { mode: 'shared' } as never),
          /MySQL\/MariaDB locks have no mode "shared".*exclusive only/,
        ],
        [
          () => createLock(pgPool, 'k', { mode: 'update' }),
          /PostgreSQL locks have no mode "update"; its modes: exclusive, shared/,
        ],
        [
          () => createLock(pgPool, 'k', { shared: true } as never),
          /Unknown option "shared".*mode: 'shared'/,
        ],
        [
          () => createLock(pgPool, 'k', { scope: 'transaction' } as never),
          /Unknown option "scope".*withLock/,
        ],
        [() => createLock(pgPool, 'k', { fencing: 'bad name!' }), /Invalid fencing counter name/],
        [() => createLock({} as never, 'k'), /Locks need a txkit database/],
        [() => createLock(new pg.Pool() as never, 'k'), /Wrap the driver's pool first/],
        [() => createLock(mysqlPool, 'k'.repeat(65)), /at most 64/],
      ]
      for (const [attempt, message] of refusals) {
        assert.throws(attempt, (e: unknown) => isConfigurationError(e) && message.test(e.message))
      }
      const lock = createLock(pgPool, 'k')
      for (const timeout of [-1, Number.NaN, '5']) {
        await assert.rejects(
          lock.acquire({ timeout } as never),
          (e: unknown) => isConfigurationError(e) && /milliseconds ≥ 0/.test(e.message),
        )
      }
      await assert.rejects(lock.acquire({ wait: 5 } as never), /Unknown option "wait"/)
      await assert.rejects(
        withLock(pgPool, 'k', async () => 1, { xact: true } as never),
        /Unknown option "xact".*scope: 'transaction'/,
      )
      assert.equal(lock.locked, false)
    } finally {
      await rawPg.end()
      await rawMysql.end()
    }
  })
})
