import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { sqlOf } from '../harness/drivers.js'
import { serversForFile } from '../harness/file-servers.js'
import { createLock, createRunner, recover } from '../src/index.js'

const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
)

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

/** Values that must never reach a span: a statement parameter and a password. */
const SECRET_PARAMETER = 'card-4242-4242'

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === name)
}

function assertNoSecrets(): void {
  for (const span of exporter.getFinishedSpans()) {
    const text = JSON.stringify(span.attributes)
    assert.ok(!text.includes(SECRET_PARAMETER), `${span.name} carries a parameter: ${text}`)
    assert.ok(!/:\/\/|password/i.test(text), `${span.name} carries a URL: ${text}`)
  }
}

async function twoDatabases() {
  const [a, b] = await Promise.all(
    ['a', 'b'].map((name) => fixture.markedPg(servers.postgres, name)),
  )
  if (a === undefined || b === undefined) throw new Error('no databases')
  return { a, b }
}

describe('OpenTelemetry spans', () => {
  test('a committed transaction: one txkit.transaction span with begin, prepare, decision and commit children', async () => {
    const { a, b } = await twoDatabases()
    const coordinator = fixture.coordinator({ decisionLog: a.db, prefix: 'traced' })
    await coordinator.createDecisionLog()
    exporter.reset()
    await coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
      await branches.a.query('INSERT INTO marks VALUES ($1)', [SECRET_PARAMETER])
      await branches.b.query('INSERT INTO marks VALUES ($1)', [SECRET_PARAMETER])
    })
    const [transaction] = spansNamed('txkit.transaction')
    assert.ok(
      transaction,
      exporter
        .getFinishedSpans()
        .map((span) => span.name)
        .join(', '),
    )
    assert.equal(transaction.attributes['txkit.transaction.prefix'], 'traced')
    assert.equal(transaction.attributes['txkit.transaction.protocol'], 'decision')
    assert.equal(transaction.attributes['txkit.transaction.outcome'], 'committed')
    assert.deepEqual(transaction.attributes['txkit.transaction.databases'], ['a', 'b'])
    assert.match(
      String(transaction.attributes['txkit.transaction.id']),
      /^traced\.[0-9a-z]{25}\.a$/,
    )
    const id = transaction.spanContext().spanId
    const children = exporter
      .getFinishedSpans()
      .filter((span) => span.parentSpanContext?.spanId === id)
      .map((span) => `${span.name}:${span.attributes['txkit.database'] ?? '-'}`)
      .sort()
    assert.deepEqual(children, [
      'txkit.begin:-',
      'txkit.commit:b',
      'txkit.decision:a',
      'txkit.prepare:b',
    ])
    for (const span of exporter.getFinishedSpans()) {
      assert.equal(span.spanContext().traceId, transaction.spanContext().traceId, span.name)
    }
    assertNoSecrets()
  })

  test('a rolled-back transaction says so; a failed prepare marks its span as an error', async () => {
    const { a, b } = await twoDatabases()
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await coordinator.createDecisionLog()
    exporter.reset()
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
        await branches.b.query('CREATE TEMP TABLE scratch (x int)')
        await branches.a.query('INSERT INTO marks VALUES ($1)', ['x'])
      }),
    )
    const [transaction] = spansNamed('txkit.transaction')
    assert.equal(transaction?.attributes['txkit.transaction.outcome'], 'rolled-back')
    assert.equal(transaction?.status.code, 2)
    const [prepare] = spansNamed('txkit.prepare')
    assert.equal(prepare?.status.code, 2, 'the prepare that the server refused')
    assert.match(prepare?.status.message ?? '', /temporary objects/)
  })

  test('lock waits, runner attempts and recovery rounds', async () => {
    const { a, b } = await twoDatabases()
    exporter.reset()
    const lock = await createLock(a.db, 'traced-lock').acquire()
    await lock.release()
    const [acquire] = spansNamed('txkit.lock.acquire')
    assert.equal(acquire?.attributes['txkit.lock.acquired'], true)
    assert.equal(acquire?.attributes['txkit.lock.mode'], 'exclusive')

    const runner = createRunner({ maxRetries: 0 })
    await runner.run(a.db, (session) => sqlOf(session)('SELECT 1'), { name: 'traced-op' })
    const [attempt] = spansNamed('txkit.run.attempt')
    assert.equal(attempt?.attributes['txkit.run.name'], 'traced-op')
    assert.equal(attempt?.attributes['txkit.run.attempt'], 1)

    await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
    await recover({ databases: [a.db, b.db], decisionLog: a.db, minAge: 0 })
    const [round] = spansNamed('txkit.recovery.round')
    assert.equal(round?.attributes['txkit.recovery.committed'], 0)
    assert.equal(round?.attributes['txkit.transaction.prefix'], 'txkit')
    assertNoSecrets()
  })
})
