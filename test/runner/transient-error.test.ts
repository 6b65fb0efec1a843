import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  CommitOutcomeUnknownError,
  classifyError,
  isRetryableTransactionError,
  isTransientError,
  RetryTransactionError,
} from '../../src/index.js'
// Each database's codes register from its folder, as its txkit entry point loads them.
import '../../src/mysql/mysql-error-codes.js'
import '../../src/postgres/postgres-error-codes.js'
import '../../src/sqlite/sqlite-error-codes.js'

const withCode = (code: string) => Object.assign(new Error(code), { code })
const withErrno = (errno: number) => Object.assign(new Error(String(errno)), { errno })

describe('transient errors', () => {
  test('PostgreSQL SQLSTATEs: conflicts, lock and statement timeouts, lost sessions', () => {
    for (const code of ['40001', '40P01', '55P03', '57014', '53300']) {
      assert.deepEqual(classifyError(withCode(code)), { transient: true, code, scope: 'statement' })
    }
    for (const code of ['08006', '08003', '57P01', '57P02', '57P03']) {
      assert.deepEqual(classifyError(withCode(code)), {
        transient: true,
        code,
        scope: 'connection',
      })
    }
    for (const code of ['23505', '42601', '25006', '22P02']) {
      assert.equal(isTransientError(withCode(code)), false, code)
    }
  })

  test('MySQL/MariaDB errno: a deadlock undoes the transaction, a lock wait timeout the statement', () => {
    assert.deepEqual(classifyError(withErrno(1213)), {
      transient: true,
      code: '1213',
      scope: 'transaction',
    })
    for (const errno of [1205, 3572, 3024, 1969]) {
      assert.equal(classifyError(withErrno(errno)).scope, 'statement', String(errno))
      assert.equal(isTransientError(withErrno(errno)), true)
    }
    for (const errno of [2006, 2013, 1927, 1053]) {
      assert.equal(classifyError(withErrno(errno)).scope, 'connection', String(errno))
    }
    assert.equal(isTransientError(withErrno(1062)), false)
  })

  test('lost connections as pure-JS drivers report them; SQLite busy', () => {
    for (const code of ['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'CONNECTION_CLOSED']) {
      assert.equal(classifyError(withCode(code)).scope, 'connection', code)
    }
    assert.equal(classifyError(new Error('Connection terminated unexpectedly')).scope, 'connection')
    assert.equal(isTransientError(new Error('something about a connection terminated')), false)
    assert.equal(isTransientError(withCode('SQLITE_BUSY')), true)
    assert.equal(isTransientError(withCode('SQLITE_CONSTRAINT_PRIMARYKEY')), false)
  })

  test('wrapped by ORMs: Drizzle and Kysely cause, TypeORM driverError, Sequelize original, Prisma', () => {
    const drizzle = new Error('Failed query: update …', { cause: withCode('40P01') })
    const typeorm = Object.assign(new Error('QueryFailedError'), { driverError: withErrno(1213) })
    const sequelize = Object.assign(new Error('SequelizeDatabaseError'), {
      original: withCode('55P03'),
    })
    const deep = new Error('outer', {
      cause: new Error('middle', { cause: withCode('ECONNRESET') }),
    })
    assert.equal(classifyError(drizzle).code, '40P01')
    assert.equal(classifyError(typeorm).scope, 'transaction')
    assert.equal(classifyError(sequelize).code, '55P03')
    assert.equal(classifyError(deep).scope, 'connection')
    assert.equal(classifyError(withCode('P2034')).transient, true)
    const loop: Record<string, unknown> = new Error('loop') as never
    loop.cause = loop
    assert.equal(isTransientError(loop), false)
  })

  test('transaction-level retry: a RetryTransactionError yes, an unknown commit never', () => {
    assert.equal(
      isRetryableTransactionError(new RetryTransactionError('again', { cause: withErrno(1213) })),
      true,
    )
    assert.equal(
      isRetryableTransactionError(
        new CommitOutcomeUnknownError('lost', { cause: withCode('ECONNRESET') }),
      ),
      false,
    )
    assert.equal(isRetryableTransactionError(withCode('23505')), false)
  })
})
