import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import {
  type CommitOutcome,
  isTransactionStateError,
  type Logger,
  type TransactionManagerOptions,
  type TransactionResource,
} from '../../src/index.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

const pgMember = (name: string) => fixture.markedPg(servers.postgres, name)
const manager = (options: TransactionManagerOptions) => fixture.manager(options)

/** A logger that keeps what it was given. */
function capturingLogger() {
  const errors: Array<{ fields: Record<string, unknown>; message: string }> = []
  const logger: Logger = {
    info: () => {},
    warn: () => {},
    error: (fields, message) => errors.push({ fields: fields as Record<string, unknown>, message }),
  }
  return { logger, errors }
}

describe('a savepoint whose rollback fails part-way leaves the transaction uncommittable', () => {
  test('manager.run: the work goes on after the failed rollback; nothing is committed, and the caller is told why', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager({ decisionLog: a.db })
    let refused: unknown
    const caught = await txm
      .run(async (tx) => {
        const [ab, bb] = [await tx.join('a', a.db), await tx.join('b', b.db)]
        await ab.query(`INSERT INTO marks VALUES ('before')`)
        await bb.query(`INSERT INTO marks VALUES ('before')`)
        const savepoint = await tx.savepoint()
        await ab.query(`INSERT INTO marks VALUES ('after')`)
        await bb.query(`INSERT INTO marks VALUES ('after')`)
        // b's savepoint disappears (released in SQL): rolling back reaches a, not b.
        await bb.query(`RELEASE SAVEPOINT ${savepoint.name}`)
        refused = await savepoint.rollback().then(
          () => undefined,
          (error: unknown) => error,
        )
        // The application swallows it and carries on, as applications do.
      })
      .then(
        () => undefined,
        (error: unknown) => error,
      )
    assert.ok(isTransactionStateError(refused), String(refused))
    assert.ok(isTransactionStateError(caught), String(caught))
    assert.match(
      caught.message,
      /can only be rolled back: rolling back to savepoint .* failed on branch\(es\) "b"/,
    )
    assert.deepEqual(await pgMarks(a.pool), [], 'a half-rolled-back state was never committed')
    assert.deepEqual(await pgMarks(b.pool), [])
    for (const member of [a, b]) assert.deepEqual(await pgPrepared(member.pool), [])
  })

  test('commit() refuses and says why, abort() still works; coordinator.transaction rolls back', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager({ decisionLog: a.db })
    const tx = txm.begin()
    const [ab, bb] = [await tx.join('a', a.db), await tx.join('b', b.db)]
    await ab.query(`INSERT INTO marks VALUES ('x')`)
    const savepoint = await tx.savepoint()
    await bb.query(`INSERT INTO marks VALUES ('y')`)
    await bb.query(`RELEASE SAVEPOINT ${savepoint.name}`)
    await assert.rejects(savepoint.rollback(), isTransactionStateError)
    await assert.rejects(
      tx.commit(),
      (e: unknown) => isTransactionStateError(e) && /only be rolled back/.test(e.message),
    )
    assert.equal(tx.status, 'active', 'abort is still possible')
    await tx.abort()
    assert.deepEqual([await pgMarks(a.pool), await pgMarks(b.pool)], [[], []])

    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches, transaction) => {
        await branches.a.query(`INSERT INTO marks VALUES ('x')`)
        const point = await transaction.savepoint()
        await branches.b.query(`INSERT INTO marks VALUES ('y')`)
        await branches.b.query(`RELEASE SAVEPOINT ${point.name}`)
        await point.rollback().catch(() => undefined)
      }),
      (e: unknown) => isTransactionStateError(e) && /only be rolled back/.test(e.message),
    )
    assert.deepEqual([await pgMarks(a.pool), await pgMarks(b.pool)], [[], []])
  })
})

describe('aborting with a resource whose abort() throws', () => {
  test('the failure is logged at error level with the resource and the transaction id; the rest is rolled back', async () => {
    const a = await pgMember('a')
    const { logger, errors } = capturingLogger()
    const txm = await manager({ decisionLog: a.db, logger })
    const resource: TransactionResource = {
      sortKey: 'mailer',
      async prepare() {},
      async commit() {},
      async abort() {
        throw new Error('mail server down: the queued mail stays')
      },
    }
    const afterAbort: string[] = []
    let gtrid: string | undefined
    await assert.rejects(
      txm.run(async (tx) => {
        await tx.joinResource(resource)
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('x')`)
        tx.afterAbort(() => {
          afterAbort.push('ran')
        })
        gtrid = tx.gtrid
        throw new Error('the work failed')
      }),
      /the work failed/,
    )
    assert.deepEqual(await pgMarks(a.pool), [], 'the database branch was rolled back')
    assert.deepEqual(afterAbort, ['ran'], 'the abort finished')
    const logged = errors.find((entry) => entry.fields.database === 'resource-mailer')
    assert.ok(logged, JSON.stringify(errors))
    assert.equal(logged.fields.gtrid, gtrid)
    assert.match(String(logged.fields.error), /mail server down/)
  })
})

describe('Zope semantics of the manager', () => {
  test('abort() with no current transaction: nothing to do outside explicit mode, an error in it', async () => {
    const a = await pgMember('a')
    const implicit = await manager({ decisionLog: a.db })
    await implicit.abort()
    // And after a finished transaction, the same.
    await implicit.run(async () => {})
    await implicit.abort()
    const explicit = await manager({ decisionLog: a.db, explicit: true })
    await assert.rejects(explicit.abort(), isTransactionStateError)
  })

  test('begin() while a transaction is current is refused (a deliberate difference from Zope)', async () => {
    const a = await pgMember('a')
    const txm = await manager({ decisionLog: a.db })
    await txm.run(async () => {
      assert.throws(() => txm.begin(), isTransactionStateError)
    })
  })

  test('an after-commit hook may add after-commit hooks, which run; likewise after-abort', async () => {
    const a = await pgMember('a')
    const txm = await manager({ decisionLog: a.db })
    const seen: string[] = []
    await txm.run(async (tx) => {
      await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('x')`)
      tx.afterCommit((outcome: CommitOutcome, transaction) => {
        seen.push(`first:${outcome}`)
        transaction.afterCommit((later) => {
          seen.push(`added:${later}`)
        })
      })
    })
    await assert.rejects(
      txm.run(async (tx) => {
        tx.afterAbort((transaction) => {
          seen.push('abort-first')
          transaction.afterAbort(() => {
            seen.push('abort-added')
          })
        })
        throw new Error('no')
      }),
    )
    assert.deepEqual(seen, ['first:committed', 'added:committed', 'abort-first', 'abort-added'])
  })

  test('record hooks: inserts, then updates, then deletes; a record recorded twice runs once', async () => {
    const a = await pgMember('a')
    const txm = await manager({ decisionLog: a.db })
    const calls: string[] = []
    const hook = (name: string) => (record: unknown) => {
      calls.push(`${name}:${(record as { id: number }).id}`)
    }
    txm.onRecord('accounts', {
      beforeInsert: hook('before-insert'),
      beforeUpdate: hook('before-update'),
      beforeDelete: hook('before-delete'),
      afterInsert: hook('after-insert'),
      afterUpdate: hook('after-update'),
      afterDelete: hook('after-delete'),
    })
    const one = { id: 1 }
    const two = { id: 2 }
    await txm.run(async (tx) => {
      await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('x')`)
      tx.recordWrite('delete', 'accounts', two)
      tx.recordWrite('update', 'accounts', one)
      tx.recordWrite('insert', 'accounts', one)
      tx.recordWrite('update', 'accounts', one)
      tx.recordWrite('update', 'accounts', two)
      tx.recordWrite('insert', 'accounts', one)
    })
    assert.deepEqual(calls, [
      'before-insert:1',
      'before-update:1',
      'before-update:2',
      'before-delete:2',
      'after-insert:1',
      'after-update:1',
      'after-update:2',
      'after-delete:2',
    ])
  })
})
