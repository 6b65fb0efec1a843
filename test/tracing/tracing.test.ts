import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { sqlOf } from '../../harness/drivers.js'
import { serversForFile } from '../../harness/file-servers.js'
import { createLock, createRunner, recover } from '../../src/index.js'

const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
)

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

/** Values that must never reach a span: a statement parameter and a password. */
const SECRET_PARAMETER = 'card-4242-4242'
const SECRET_PASSWORD = 'hunter2'
/** A connection string, with its password, as an error message may quote one. */
const CONNECTION_STRING = `postgres://ledger:${SECRET_PASSWORD}@ledger.internal:5432/ledger`

function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.name === name)
}

/** Everything a span carries: attributes, status (with its message) and events. */
function spanText(span: ReadableSpan): string {
  return JSON.stringify({
    attributes: span.attributes,
    status: span.status,
    events: span.events.map((event) => ({ name: event.name, attributes: event.attributes })),
  })
}

function assertNoSecrets(): void {
  for (const span of exporter.getFinishedSpans()) {
    const text = spanText(span)
    assert.ok(!text.includes(SECRET_PARAMETER), `${span.name} carries a parameter: ${text}`)
    assert.ok(!text.includes(SECRET_PASSWORD), `${span.name} carries a password: ${text}`)
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

  test('failed steps whose errors quote a parameter and a connection string: status and events carry neither', async () => {
    const { a, b } = await twoDatabases()
    // Refused at PREPARE (a deferred constraint trigger), with an error quoting the row's value
    // (a statement parameter) and a connection string with its password.
    await b.pool.query(`
      CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'order "%" refused by ${CONNECTION_STRING}', NEW.tx; END $$;
      CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON marks DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION refuse()`)
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await coordinator.createDecisionLog()
    exporter.reset()
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
        await branches.a.query('INSERT INTO marks VALUES ($1)', [SECRET_PARAMETER])
        await branches.b.query('INSERT INTO marks VALUES ($1)', [SECRET_PARAMETER])
      }),
      // The caller's error says it all: spans are what must not.
      (error: unknown) => error instanceof Error && error.message.includes(SECRET_PARAMETER),
    )
    const [prepare] = spansNamed('txkit.prepare')
    assert.equal(prepare?.status.code, 2, 'the prepare that the trigger refused')
    assert.match(prepare?.status.message ?? '', /order .* refused by/)
    assert.ok(
      prepare?.events.some((event) => event.name === 'exception'),
      'the exception is recorded',
    )
    const [transaction] = spansNamed('txkit.transaction')
    assert.equal(transaction?.status.code, 2)
    assert.equal(transaction?.attributes['txkit.transaction.outcome'], 'rolled-back')

    // A runner attempt whose statement the server refuses, quoting its parameter.
    const runner = createRunner({ maxRetries: 0 })
    await assert.rejects(
      runner.run(a.db, (session) => sqlOf(session)('SELECT $1::int AS n', [SECRET_PARAMETER]), {
        name: 'traced-parameter',
      }),
      (error: unknown) => error instanceof Error && error.message.includes(SECRET_PARAMETER),
    )
    const [attempt] = spansNamed('txkit.run.attempt')
    assert.equal(attempt?.status.code, 2)
    assert.match(attempt?.status.message ?? '', /invalid input syntax for type integer/)
    // An operation's own error quoting a connection string.
    await assert.rejects(
      runner.run(
        a.db,
        async () => {
          throw new Error(`cannot reach ${CONNECTION_STRING}`)
        },
        { name: 'traced-url' },
      ),
    )
    const failed = spansNamed('txkit.run.attempt').filter((span) => span.status.code === 2)
    assert.equal(failed.length, 2)
    assertNoSecrets()
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
    // The same meaning as on the commit spans: the database's name; its kind apart.
    assert.equal(attempt?.attributes['txkit.database'], 'a')
    assert.equal(attempt?.attributes['db.system'], 'postgresql')

    await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
    await recover({ databases: [a.db, b.db], decisionLog: a.db, minAge: 0 })
    const [round] = spansNamed('txkit.recovery.round')
    assert.equal(round?.attributes['txkit.recovery.committed'], 0)
    assert.equal(round?.attributes['txkit.transaction.prefix'], 'txkit')
    assertNoSecrets()
  })

  test("a runner attempt on a branch names the branch's database; a value the server quotes reaches no span", async () => {
    const { a, b } = await twoDatabases()
    await b.pool.query('CREATE TABLE amounts (n integer)')
    const coordinator = fixture.coordinator({ decisionLog: a.db })
    await coordinator.createDecisionLog()
    const runner = createRunner({ maxRetries: 0 })
    exporter.reset()
    // PostgreSQL refuses the value quoting it: invalid input syntax for type integer: "hunter2".
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
        await branches.a.query('INSERT INTO marks VALUES ($1)', ['kept-out'])
        await runner.run(
          branches.b,
          (branch) => branch.query('INSERT INTO amounts VALUES ($1)', [SECRET_PASSWORD]),
          { name: 'traced-branch' },
        )
      }),
      (error: unknown) => error instanceof Error && error.message.includes(SECRET_PASSWORD),
    )
    const [attempt] = spansNamed('txkit.run.attempt')
    assert.equal(attempt?.attributes['txkit.database'], 'b')
    assert.equal(attempt?.attributes['db.system'], 'postgresql')
    assert.equal(attempt?.status.code, 2)
    assert.match(attempt?.status.message ?? '', /invalid input syntax for type integer: "…"/)
    const [transaction] = spansNamed('txkit.transaction')
    assert.equal(transaction?.attributes['txkit.transaction.outcome'], 'rolled-back')
    assertNoSecrets()
  })
})
