import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  createLock,
  isConfigurationError,
  isLockTimeoutError,
  isLockWaitAbortedError,
  withLock,
} from '../../src/index.js'
import { type MssqlPoolLike, mssqlLockSource } from '../../src/mssql/mssql.js'
import { type OraclePoolLike, oracleLockSource } from '../../src/oracle/oracle.js'

// SQL Server and Oracle cannot run on this machine. These tests pin down, against fakes of the
// mssql and oracledb drivers, exactly what txkit sends and how it reads the answers; the SQL is
// written from the vendors' documentation and has not met a live server.

interface Sent {
  readonly sql: string
  readonly params: Record<string, unknown> | unknown[]
}

/** An mssql pool whose requests record what they are sent and answer `@result` from a script. */
function fakeMssql(answers: number[]) {
  const sent: Sent[] = []
  const ends: string[] = []
  const pool: MssqlPoolLike = {
    config: { server: 'sql1', port: 1433, database: 'app', user: 'locker' },
    transaction() {
      return {
        begin: async () => ends.push('begin'),
        commit: async () => ends.push('commit'),
        rollback: async () => ends.push('rollback'),
        request() {
          const inputs: Record<string, unknown> = {}
          return {
            input(name: string, value: unknown) {
              inputs[name] = value
            },
            async query(sql: string) {
              sent.push({ sql, params: inputs })
              if (!sql.includes('@result')) return { recordset: [] }
              return { recordset: [{ result: answers.shift() ?? 0 }] }
            },
            cancel() {},
          }
        },
      }
    },
  }
  return { pool, sent, ends }
}

const GETAPPLOCK =
  "DECLARE @result int; EXEC @result = sp_getapplock @Resource = @p0, @LockMode = @p1, @LockOwner = @p2, @LockTimeout = @p3, @DbPrincipal = 'public'; SELECT @result AS result;"
const RELEASEAPPLOCK =
  "DECLARE @result int; EXEC @result = sp_releaseapplock @Resource = @p0, @LockOwner = @p1, @DbPrincipal = 'public'; SELECT @result AS result;"

const ORACLE_CONSTANTS = { BIND_OUT: 3003, NUMBER: 2010, OUT_FORMAT_OBJECT: 4002 }

/** An oracledb pool whose connections record what they execute and answer the OUT bind. */
function fakeOracle(answers: number[]) {
  const sent: Sent[] = []
  const closed: Array<{ drop?: boolean } | undefined> = []
  const pool: OraclePoolLike = {
    connectString: 'db1/ORCLPDB1',
    user: 'locker',
    async getConnection() {
      return {
        async execute(sql: string, binds: unknown[]) {
          sent.push({ sql, params: binds })
          return sql.includes(':result') ? { outBinds: [answers.shift() ?? 0] } : { rows: [] }
        },
        close: async (options?: { drop?: boolean }) => {
          closed.push(options)
        },
        break: async () => {},
      }
    },
  }
  return { pool, sent, closed }
}

describe('SQL Server locks (recorded SQL)', () => {
  test('session lock: sp_getapplock with mode, owner and a millisecond timeout, then sp_releaseapplock', async () => {
    const { pool, sent, ends } = fakeMssql([0, 0])
    const lock = await createLock(mssqlLockSource(pool), 'nightly-import').acquire({
      timeout: 1500.2,
    })
    await lock.release()
    assert.deepEqual(sent, [
      {
        sql: GETAPPLOCK,
        params: { p0: 'nightly-import', p1: 'Exclusive', p2: 'Session', p3: 1501 },
      },
      { sql: RELEASEAPPLOCK, params: { p0: 'nightly-import', p1: 'Session' } },
    ])
    assert.deepEqual(ends, ['begin', 'commit'], 'the pinning transaction ends with the lock')
  })

  test('modes, try and forever: Shared with 0, Update with -1', async () => {
    const { pool, sent } = fakeMssql([1, 0, 0, 0])
    const source = mssqlLockSource(pool)
    const shared = createLock(source, 'reports', { mode: 'shared' })
    assert.equal(await shared.tryAcquire(), true)
    await shared.release()
    await (await createLock(source, 'reports', { mode: 'update' }).acquire()).release()
    assert.deepEqual(
      sent.filter(({ sql }) => sql === GETAPPLOCK).map(({ params }) => params),
      [
        { p0: 'reports', p1: 'Shared', p2: 'Session', p3: 0 },
        { p0: 'reports', p1: 'Update', p2: 'Session', p3: -1 },
      ],
    )
  })

  test('answers: -1 is a timeout, -3 a deadlock victim, both leaving nothing held', async () => {
    const { pool, ends } = fakeMssql([-1, -3])
    const source = mssqlLockSource(pool)
    await assert.rejects(createLock(source, 'k').acquire({ timeout: 100 }), (e: unknown) =>
      isLockTimeoutError(e),
    )
    await assert.rejects(createLock(source, 'k').acquire(), /deadlock victim \(-3\)/)
    assert.deepEqual(ends, ['begin', 'commit', 'begin', 'rollback'])
  })

  test('transaction scope: owner Transaction inside BEGIN / COMMIT TRANSACTION', async () => {
    const { pool, sent } = fakeMssql([0])
    await withLock(
      mssqlLockSource(pool),
      'settle',
      async (lock) => lock.query('UPDATE t SET x = 1'),
      {
        scope: 'transaction',
      },
    )
    assert.deepEqual(
      sent.map(({ sql }) => sql),
      ['BEGIN TRANSACTION', GETAPPLOCK, 'UPDATE t SET x = 1', 'COMMIT TRANSACTION'],
    )
    assert.equal(((sent[1] as Sent).params as Record<string, unknown>).p2, 'Transaction')
  })

  test('names up to 255 characters; longer ones refused or hashed; no fencing', () => {
    const source = mssqlLockSource(fakeMssql([]).pool)
    assert.equal(createLock(source, 'k'.repeat(255)).identifier, 'k'.repeat(255))
    assert.throws(() => createLock(source, 'k'.repeat(256)), /at most 255/)
    assert.match(
      String(createLock(source, 'k'.repeat(256), { longKeys: 'hash' }).identifier),
      /^h:[0-9a-f]{64}$/,
    )
    assert.throws(
      () => createLock(source, 'k', { fencing: true }),
      (e: unknown) => isConfigurationError(e) && /not available on SQL Server/.test(e.message),
    )
    assert.throws(() => createLock(source, 'k', { mode: 'sub-shared' }), /no mode "sub-shared"/)
  })
})

describe('Oracle locks (recorded SQL)', () => {
  test('DBMS_LOCK.REQUEST with the mode number, whole seconds rounded up, then RELEASE', async () => {
    const { pool, sent, closed } = fakeOracle([0, 0])
    const lock = await createLock(oracleLockSource(pool, ORACLE_CONSTANTS), 12345, {
      mode: 'sub-exclusive',
    }).acquire({ timeout: 1500 })
    await lock.release()
    const out = { dir: 3003, type: 2010 }
    assert.deepEqual(sent, [
      {
        sql: 'BEGIN :result := DBMS_LOCK.REQUEST(id => :id, lockmode => :lockmode, timeout => :timeout, release_on_commit => FALSE); END;',
        params: [out, 12345, 3, 2],
      },
      { sql: 'BEGIN :result := DBMS_LOCK.RELEASE(id => :id); END;', params: [out, 12345] },
    ])
    assert.deepEqual(closed, [{ drop: false }])
  })

  test('the six modes, try (0 s) and forever (MAXWAIT), transaction scope released on commit', async () => {
    const modes = [
      ['null', 1],
      ['sub-shared', 2],
      ['sub-exclusive', 3],
      ['shared', 4],
      ['shared-sub-exclusive', 5],
      ['exclusive', 6],
    ] as const
    for (const [mode, number] of modes) {
      const { pool, sent } = fakeOracle([0])
      assert.equal(
        await createLock(oracleLockSource(pool, ORACLE_CONSTANTS), 7, { mode }).tryAcquire(),
        true,
      )
      assert.deepEqual(((sent[0] as Sent).params as unknown[]).slice(1), [7, number, 0])
    }
    const { pool, sent } = fakeOracle([0])
    await withLock(oracleLockSource(pool, ORACLE_CONSTANTS), 7, async () => 'work', {
      scope: 'transaction',
    })
    assert.match(sent[0]?.sql ?? '', /release_on_commit => TRUE/)
    assert.deepEqual(((sent[0] as Sent).params as unknown[]).slice(1), [7, 6, 32767])
    assert.equal(sent[1]?.sql, 'COMMIT')
  })

  test('answers: 1 is a timeout, 2 a deadlock, 4 already owned', async () => {
    const { pool } = fakeOracle([1, 2, 4])
    const source = oracleLockSource(pool, ORACLE_CONSTANTS)
    await assert.rejects(createLock(source, 1).acquire({ timeout: 10 }), (e: unknown) =>
      isLockTimeoutError(e),
    )
    await assert.rejects(createLock(source, 1).acquire(), /deadlock detected \(2\)/)
    await assert.rejects(createLock(source, 1).acquire(), /already owns the lock \(4\)/)
  })

  test('keys: strings hash into 0..1073741823, integers outside it are refused; bad setup is named', async () => {
    const source = oracleLockSource(fakeOracle([]).pool, ORACLE_CONSTANTS)
    assert.equal(createLock(source, 'my-resource-key').identifier, 955480729n)
    assert.throws(() => createLock(source, 1073741824), /outside Oracle DBMS_LOCK's range/)
    assert.throws(
      () => createLock(source, 'k', { mode: 'update' }),
      /Oracle locks have no mode "update"/,
    )
    assert.throws(
      () => oracleLockSource(fakeOracle([]).pool, undefined as never),
      /needs the oracledb module/,
    )
    const aborted = createLock(source, 1).acquire({ signal: AbortSignal.abort() })
    await assert.rejects(aborted, (e: unknown) => isLockWaitAbortedError(e))
  })
})
