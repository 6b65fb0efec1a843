/**
 * The inbox's span: `txkit.inbox.handle`, linked to the sender's span through the message's
 * `traceparent` header, naming the message, the consumer and the outcome.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { trace } from '@opentelemetry/api'
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base'
import { serversForFile } from '../../harness/file-servers.js'
import { createInbox } from '../../src/inbox/inbox.js'
import { createInboxTable } from '../../src/inbox/inbox-table.js'
import type { ManagedTransaction } from '../../src/index.js'
import { received } from './inbox-bank.js'

const exporter = new InMemorySpanExporter()
trace.setGlobalTracerProvider(
  new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
)

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const SPAN_ID = '00f067aa0ba902b7'

test('the consumer’s span links to the sender’s and says how the message was handled', async () => {
  const url = await servers.postgres.createDatabase()
  const { pool, db } = fixture.pg(url, 'shipping')
  await pool.query('CREATE TABLE shipped (order_id text PRIMARY KEY)')
  await createInboxTable(db)
  const manager = await fixture.manager({ decisionLog: db })
  const inbox = createInbox({ manager, database: db, consumer: 'shipping' })
  const ship = async (order: { id: string }, tx: ManagedTransaction) => {
    const shipping = await tx.join('shipping', db)
    await shipping.query('INSERT INTO shipped VALUES ($1)', [order.id])
  }
  const message = received('order-7', { id: '7' }, { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` })
  assert.equal(await inbox.handle(message, ship), 'applied')
  assert.equal(await inbox.handle(message, ship), 'duplicate')
  await assert.rejects(
    inbox.handle(received('order-8', { id: '8' }), async () => {
      throw new Error("refused by 'warehouse'")
    }),
  )
  const spans = exporter.getFinishedSpans().filter((span) => span.name === 'txkit.inbox.handle')
  assert.equal(spans.length, 3)
  const [applied, duplicate, failed] = spans
  for (const span of [applied, duplicate]) {
    assert.equal(span?.links[0]?.context.traceId, TRACE_ID)
    assert.equal(span?.links[0]?.context.spanId, SPAN_ID)
    assert.equal(span?.attributes['txkit.message.id'], 'order-7')
    assert.equal(span?.attributes['txkit.inbox.consumer'], 'shipping')
    assert.equal(span?.attributes['txkit.message.destination'], 'transfers')
  }
  assert.equal(applied?.attributes['txkit.inbox.outcome'], 'applied')
  assert.equal(duplicate?.attributes['txkit.inbox.outcome'], 'duplicate')
  assert.equal(failed?.links.length, 0, 'no traceparent, no link')
  assert.equal(failed?.status.code, 2)
  assert.doesNotMatch(JSON.stringify(failed?.status), /warehouse/, 'quoted values stay out')
  const { rows } = await pool.query('SELECT order_id FROM shipped')
  assert.deepEqual(rows, [{ order_id: '7' }])
})
