/** `recover()`'s `onProgress`: told the round's total once planned, then every transaction. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { prepareBacklog } from '../../harness/prepared-backlog.js'
import { type RecoveryProgress, recover } from '../../src/index.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

describe('recover() onProgress', () => {
  test('done rises one by one from 0 to the total, with the counts; the last call is final', async () => {
    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) => fixture.markedPg(servers.postgres, name)),
    )
    if (a === undefined || b === undefined) throw new Error('no databases')
    await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
    const started = (Date.now() - 60_000).toString(36).padStart(9, '0')
    const gtrids = Array.from(
      { length: 20 },
      (_, index) => `onprog.${started}${index.toString(16).padStart(16, '0')}`,
    )
    await prepareBacklog(b.pool, gtrids)
    // Half committed, half rolled back.
    await a.pool.query(
      `INSERT INTO txkit_decision (gtrid, outcome, participants)
       SELECT g, CASE WHEN n % 2 = 0 THEN 'C' ELSE 'A' END, '["a","b"]'
       FROM unnest($1::varchar[]) WITH ORDINALITY AS t(g, n)`,
      [gtrids],
    )
    const calls: RecoveryProgress[] = []
    const report = await recover({
      databases: [a.db, b.db],
      decisionLog: a.db,
      prefix: 'onprog',
      minAge: 0,
      concurrency: 2,
      onProgress: (progress) => calls.push(progress),
    })
    assert.equal(report.counts.committed, 10)
    assert.equal(report.counts.rolledBack, 10)
    assert.deepEqual(
      calls.map((call) => call.done),
      [...Array.from({ length: 21 }, (_, index) => index), 20],
    )
    assert.ok(calls.every((call) => call.total === 20))
    assert.deepEqual(
      calls.map((call) => call.final),
      [...Array.from({ length: 21 }, () => false), true],
    )
    const last = calls.at(-1)
    assert.deepEqual(
      last && [last.committed, last.rolledBack, last.left, last.failed],
      [10, 10, 0, 0],
    )
    assert.equal(last?.startedAt, report.startedAt)
    assert.ok(
      calls.every(
        (call, index) => index === 0 || call.elapsedMs >= (calls[index - 1]?.elapsedMs ?? 0),
      ),
    )
  })

  test('a throwing onProgress never stops the round; one that is not a function is refused', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
    const warnings: string[] = []
    const report = await recover({
      databases: [a.db],
      decisionLog: a.db,
      onProgress: () => {
        throw new Error('display gone')
      },
      logger: { warn: (fields) => warnings.push(JSON.stringify(fields)), error() {} },
    })
    assert.equal(report.counts.failed, 0)
    assert.deepEqual(warnings, ['{"error":"display gone"}'], 'logged once')
    await assert.rejects(
      recover({
        databases: [a.db],
        decisionLog: a.db,
        onProgress: 'yes' as unknown as () => void,
      }),
      /onProgress must be a function/,
    )
  })
})
