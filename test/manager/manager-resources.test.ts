import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import {
  type CommitOutcome,
  type Database,
  isConfigurationError,
  isTransactionRolledBackError,
  parseXid,
  type TransactionResource,
} from '../../src/index.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

const pgMember = (name: string) => fixture.markedPg(servers.postgres, name)

const marks = pgMarks

/** A resource that logs every call it gets, and can be told to refuse its prepare. */
function loggingResource(
  sortKey: string,
  options: { refusePrepare?: boolean; savepoints?: boolean } = {},
) {
  const calls: string[] = []
  const resource: TransactionResource = {
    sortKey,
    async begin() {
      calls.push('begin')
    },
    async prepare(xid) {
      calls.push(`prepare ${xid}`)
      if (options.refusePrepare) throw new Error('outbox disk full')
    },
    async commit(xid) {
      calls.push(`commit ${xid}`)
    },
    async abort(xid) {
      calls.push(`abort ${xid ?? 'unprepared'}`)
    },
    async commitOnePhase() {
      calls.push('commit one phase')
    },
    ...(options.savepoints && {
      async savepoint() {
        calls.push('savepoint')
        return {
          rollback: async () => {
            calls.push('rollback to savepoint')
          },
        }
      },
    }),
  }
  return { resource, calls }
}

const manager = (decision: { db: Database }) => fixture.manager({ decisionLog: decision.db })

describe('user-written resources', () => {
  test('with databases it is prepared, then committed after the decision', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager(a)
    const { resource, calls } = loggingResource('outbox')
    await txm.run(async (tx) => {
      await tx.joinResource(resource)
      await tx.joinResource(resource)
      await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('r1')`)
      await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('r1')`)
    })
    assert.equal(calls[0], 'begin')
    assert.equal(calls.length, 3, JSON.stringify(calls))
    const xid = calls[1]?.replace('prepare ', '') ?? ''
    assert.equal(parseXid(xid, 'txkit').kind, 'decision')
    assert.deepEqual(calls.slice(1), [`prepare ${xid}`, `commit ${xid}`])
    assert.deepEqual(await marks(a.pool), ['r1'])
    assert.deepEqual(await marks(b.pool), ['r1'])
  })

  test('a resource that fails in prepare rolls everything back; hooks are told "aborted"', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager(a)
    const { resource, calls } = loggingResource('outbox', { refusePrepare: true })
    const outcomes: CommitOutcome[] = []
    await assert.rejects(
      txm.run(async (tx) => {
        await tx.joinResource(resource)
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('r2')`)
        await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('r2')`)
        tx.afterCommit((outcome) => {
          outcomes.push(outcome)
        })
      }),
      (e: unknown) => isTransactionRolledBackError(e) && /outbox disk full/.test(e.message),
    )
    assert.deepEqual(outcomes, ['aborted'])
    assert.match(calls.join('|'), /^begin\|prepare \S+\|abort unprepared$/)
    assert.deepEqual(await marks(a.pool), [])
    assert.deepEqual(await marks(b.pool), [])
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
  })

  test('alone, a resource commits in one phase', async () => {
    const a = await pgMember('a')
    const txm = await manager(a)
    const { resource, calls } = loggingResource('alone')
    await txm.run(async (tx) => {
      await tx.joinResource(resource)
    })
    assert.deepEqual(calls, ['begin', 'commit one phase'])
  })

  test('a savepoint needs every resource to support one; with support it is rolled back too', async () => {
    const a = await pgMember('a')
    const txm = await manager(a)
    const plain = loggingResource('plain')
    await txm.run(async (tx) => {
      await tx.joinResource(plain.resource)
      await assert.rejects(
        tx.savepoint(),
        (e: unknown) =>
          isConfigurationError(e) && /Resource "plain" cannot set savepoints/.test(e.message),
      )
      tx.doom()
    })
    const able = loggingResource('able', { savepoints: true })
    await txm.run(async (tx) => {
      await tx.joinResource(able.resource)
      const db = await tx.join('a', a.db)
      const savepoint = await tx.savepoint()
      await db.query(`INSERT INTO marks VALUES ('gone')`)
      await savepoint.rollback()
    })
    assert.ok(able.calls.includes('savepoint') && able.calls.includes('rollback to savepoint'))
    assert.deepEqual(await marks(a.pool), [])
  })

  test("a resource's shouldRetry makes manager.retry run the transaction again", async () => {
    const a = await pgMember('a')
    const txm = await manager(a)
    let runs = 0
    const flaky: TransactionResource = {
      ...loggingResource('flaky').resource,
      shouldRetry: (error) => (error as Error).message === 'busy, try again',
    }
    const result = await txm.retry(
      async (tx) => {
        runs++
        await tx.joinResource(flaky)
        if (runs === 1) throw new Error('busy, try again')
        return 'done'
      },
      { initialDelay: 1 },
    )
    assert.equal(result, 'done')
    assert.equal(runs, 2)
  })

  test('a malformed resource is refused', async () => {
    const a = await pgMember('a')
    const txm = await manager(a)
    await txm.run(async (tx) => {
      await assert.rejects(
        tx.joinResource({ sortKey: '' } as TransactionResource),
        (e: unknown) => isConfigurationError(e) && /sortKey and prepare/.test(e.message),
      )
    })
  })
})
