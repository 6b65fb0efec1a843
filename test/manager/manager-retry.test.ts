import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import {
  isConfigurationError,
  isRetryableTransactionError,
  OutcomeUnknownError,
} from '../../src/index.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

async function pgMember(name: string) {
  const member = await fixture.markedPg(servers.postgres, name)
  await member.pool.query('CREATE TABLE counters (n int)')
  return member
}

describe('retrying a whole transaction', () => {
  test('a serialization failure between two SERIALIZABLE transactions succeeds on the second attempt', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await fixture.manager({ decisionLog: a.db })
    const attempts = [0, 0]
    let arrived = 0
    let release: () => void = () => {}
    const bothRead = new Promise<void>((resolve) => (release = resolve))
    const worker = (id: number) =>
      txm.retry(
        async (tx) => {
          attempts[id] = (attempts[id] ?? 0) + 1
          const counters = await tx.join('a', a.db)
          await counters.query('SET TRANSACTION ISOLATION LEVEL SERIALIZABLE')
          const [{ total } = { total: 0 }] = await counters.query<{ total: number }>(
            'SELECT coalesce(sum(n), 0)::int AS total FROM counters',
          )
          if (attempts[id] === 1 && ++arrived === 2) release()
          if (attempts[id] === 1) await bothRead
          await counters.query('INSERT INTO counters VALUES ($1)', [total + 1])
          await (await tx.join('b', b.db)).query('INSERT INTO marks VALUES ($1)', [
            `w${id}-${attempts[id]}`,
          ])
        },
        { attempts: 4, initialDelay: 10 },
      )
    await Promise.all([worker(0), worker(1)])
    assert.deepEqual(
      [...attempts].sort(),
      [1, 2],
      'one committed at once, the other on its second attempt',
    )
    const rows = await a.pool.query<{ n: number }>('SELECT n FROM counters ORDER BY n')
    assert.deepEqual(
      rows.rows.map((r) => r.n),
      [1, 2],
      'serializable: no write skew survived',
    )
    const marks = await b.pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
    assert.equal(marks.rowCount, 2, 'the failed attempt left nothing in the other database')
  })

  test('attempts(n): the loop ends at the first success, after a retryable failure', async () => {
    const a = await pgMember('a')
    const txm = await fixture.manager({ decisionLog: a.db })
    const seen: number[] = []
    for await (const attempt of txm.attempts(3, { initialDelay: 1 })) {
      seen.push(attempt.number)
      await attempt.run(async (tx) => {
        await (await tx.join('a', a.db)).query('INSERT INTO marks VALUES ($1)', [
          `try-${attempt.number}`,
        ])
        if (attempt.number === 1)
          throw Object.assign(new Error('deadlock detected'), { code: '40P01' })
      })
    }
    assert.deepEqual(seen, [1, 2])
    const rows = await a.pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
    assert.deepEqual(
      rows.rows.map((r) => r.tx),
      ['try-2'],
      'the failed attempt was rolled back',
    )
    const last: number[] = []
    await assert.rejects(async () => {
      for await (const attempt of txm.attempts(2, { initialDelay: 1 })) {
        last.push(attempt.number)
        await attempt.run(async () => {
          throw Object.assign(new Error('still failing'), { code: '40001' })
        })
      }
    }, /still failing/)
    assert.deepEqual(last, [1, 2], 'the last attempt rethrows')
  })

  test('other errors, and an outcome-unknown commit, are never retried', async () => {
    const a = await pgMember('a')
    const txm = await fixture.manager({ decisionLog: a.db })
    let runs = 0
    await assert.rejects(
      txm.retry(
        async () => {
          runs++
          throw new Error('not transient')
        },
        { attempts: 5 },
      ),
      /not transient/,
    )
    assert.equal(runs, 1)
    runs = 0
    const unknown = new OutcomeUnknownError('g', [], 'unknown', {
      cause: Object.assign(new Error('x'), { code: '40001' }),
    })
    assert.equal(isRetryableTransactionError(unknown), false)
    await assert.rejects(
      txm.retry(
        async () => {
          runs++
          throw unknown
        },
        { attempts: 5, shouldRetry: () => true },
      ),
      (e) => e === unknown,
    )
    assert.equal(runs, 1)
    await assert.rejects(
      txm.retry(async () => 1, { attempts: 0 }),
      isConfigurationError,
    )
    assert.equal(
      isRetryableTransactionError(Object.assign(new Error('deadlock'), { errno: 1213 })),
      true,
    )
    assert.equal(
      isRetryableTransactionError(new Error('wrapped', { cause: { code: '40P01' } })),
      true,
    )
  })
})
