import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import {
  isOutcomeUnknownError,
  isTransactionStateError,
  type Logger,
  type RecordHooks,
  type TransactionManagerOptions,
} from '../../src/index.js'

const servers = serversForFile()
const { fixture } = servers

const pgMember = (name: string) => fixture.markedPg(servers.postgres, name)

const marks = pgMarks

const manager = (options: TransactionManagerOptions) => fixture.manager(options)

/** All nine hooks, each writing what it saw into `calls`. */
function recordingHooks(calls: string[]): RecordHooks {
  const hook = (phase: string) => (record: unknown, info: { kind: string; outcome?: string }) => {
    calls.push(
      `${phase}-${info.kind}:${(record as { id: number }).id}${info.outcome ? `:${info.outcome}` : ''}`,
    )
  }
  return {
    beforeInsert: hook('before'),
    afterInsert: hook('after'),
    failedInsert: hook('failed'),
    beforeUpdate: hook('before'),
    afterUpdate: hook('after'),
    failedUpdate: hook('failed'),
    beforeDelete: hook('before'),
    afterDelete: hook('after'),
    failedDelete: hook('failed'),
  }
}

describe('savepoints across every joined database', () => {
  test('rollback undoes every database, a database joined later back to its join point', async (t) => {
    if (servers.mariadb === undefined) return t.skip('no MariaDB')
    const a = await pgMember('a')
    const b = await pgMember('b')
    const c = await pgMember('c')
    const m = await fixture.mysql(await servers.mariadb.createDatabase(), 'm')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const txm = await manager({ decisionLog: a.db })
    await txm.run(async (tx) => {
      const [ab, bb, mb] = [
        await tx.join('a', a.db),
        await tx.join('b', b.db),
        await tx.join('m', m.db),
      ]
      await ab.query(`INSERT INTO marks VALUES ('keep')`)
      await bb.query(`INSERT INTO marks VALUES ('keep')`)
      await mb.query(`INSERT INTO marks VALUES ('keep')`)
      const savepoint = await tx.savepoint()
      await ab.query(`INSERT INTO marks VALUES ('drop')`)
      await bb.query(`INSERT INTO marks VALUES ('drop')`)
      await mb.query(`INSERT INTO marks VALUES ('drop')`)
      await (await tx.join('c', c.db)).query(`INSERT INTO marks VALUES ('drop')`)
      // A failed statement inside a PostgreSQL branch is undone by the rollback too.
      await ab.query('SELECT 1/0').catch(() => 'failed')
      await savepoint.rollback()
      await ab.query(`INSERT INTO marks VALUES ('after')`)
    })
    assert.deepEqual(await marks(a.pool), ['after', 'keep'])
    assert.deepEqual(await marks(b.pool), ['keep'])
    assert.deepEqual(await marks(c.pool), [])
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks')
    assert.deepEqual(
      rows.map((r) => r.tx),
      ['keep'],
    )
    for (const x of [a, b, c]) assert.deepEqual(await pgPrepared(x.pool), [])
  })

  test('a released savepoint, or one set after a rolled back one, can no longer be used', async () => {
    const a = await pgMember('a')
    const txm = await manager({ decisionLog: a.db })
    await txm.run(async (tx) => {
      await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('x')`)
      const first = await tx.savepoint()
      const second = await first.savepoint()
      await first.rollback()
      await assert.rejects(
        second.rollback(),
        (e: unknown) => isTransactionStateError(e) && /no longer exists/.test(e.message),
      )
      await first.release()
      await assert.rejects(first.rollback(), isTransactionStateError)
    })
    assert.deepEqual(await marks(a.pool), ['x'])
  })
})

describe('record hooks', () => {
  test('every before-hook, then exactly one after-hook per record when committed', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager({ decisionLog: a.db })
    const calls: string[] = []
    txm.onRecord('accounts', recordingHooks(calls))
    await txm.run(async (tx) => {
      await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('r')`)
      await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('r')`)
      tx.recordWrite('insert', 'accounts', { id: 1 })
      tx.recordWrite('update', 'accounts', { id: 2 })
      tx.recordWrite('delete', 'accounts', { id: 3 })
      tx.recordWrite('insert', 'other_table', { id: 4 })
      assert.deepEqual(calls, [], 'nothing runs before the commit')
    })
    assert.deepEqual(calls, [
      'before-insert:1',
      'before-update:2',
      'before-delete:3',
      'after-insert:1',
      'after-update:2',
      'after-delete:3',
    ])
  })

  test('aborted: failed-hooks say so; a throwing before-hook lets the others run, then aborts', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager({ decisionLog: a.db })
    const calls: string[] = []
    txm.onRecord('accounts', recordingHooks(calls))
    txm.onRecord('accounts', {
      beforeUpdate: () => {
        throw new Error('update refused')
      },
    })
    await assert.rejects(
      txm.run(async (tx) => {
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('r')`)
        await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('r')`)
        tx.recordWrite('insert', 'accounts', { id: 1 })
        tx.recordWrite('update', 'accounts', { id: 2 })
        tx.recordWrite('delete', 'accounts', { id: 3 })
      }),
      /update refused/,
    )
    assert.deepEqual(calls, [
      'before-insert:1',
      'before-update:2',
      'before-delete:3',
      'failed-insert:1:aborted',
      'failed-update:2:aborted',
      'failed-delete:3:aborted',
    ])
    assert.deepEqual(await marks(a.pool), [])
    calls.length = 0
    await txm
      .run(async (tx) => {
        tx.recordWrite('insert', 'accounts', { id: 5 })
        throw new Error('stop')
      })
      .catch(() => {})
    assert.deepEqual(
      calls,
      ['failed-insert:5:aborted'],
      'an abort: failed, no before (never committing)',
    )
  })

  test('an unknown outcome is said, never guessed; records of a rolled-back savepoint get no hook', async () => {
    const a = await fixture.pgThroughProxy((await pgMember('a')).url, 'a')
    const b = await pgMember('b')
    const errors: string[] = []
    const logger: Logger = { warn: () => {}, error: (_f, message) => errors.push(message) }
    const txm = await manager({
      decisionLog: a.db,
      logger,
      onStep: (event) => {
        // The decision's COMMIT reaches the server; its answer never comes back.
        if (event.step === 'decision' && event.when === 'before') a.proxy.cutAfter('COMMIT')
      },
    })
    const calls: string[] = []
    txm.onRecord('accounts', recordingHooks(calls))
    txm.onRecord('accounts', {
      failedInsert: () => {
        throw new Error('hook broken')
      },
    })
    await assert.rejects(
      txm.run(async (tx) => {
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('u')`)
        await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('u')`)
        tx.recordWrite('insert', 'accounts', { id: 1 })
        const savepoint = await tx.savepoint()
        tx.recordWrite('insert', 'accounts', { id: 2 })
        await savepoint.rollback()
      }),
      isOutcomeUnknownError,
    )
    assert.deepEqual(calls, ['before-insert:1', 'failed-insert:1:unknown'])
    assert.equal(errors.length, 1, 'the throwing failed-hook was logged')
    for (const xid of await pgPrepared(b.pool)) await b.pool.query(`ROLLBACK PREPARED '${xid}'`)
  })
})
