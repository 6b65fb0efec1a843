/**
 * `tx.outbox.send(…)`: messages written in the transaction's atomic commit, on PostgreSQL and
 * MariaDB, through the coordinator and the manager; refused input; savepoints; per-key order.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import {
  createOutboxTables,
  isConfigurationError,
  isMessageRefusedError,
  isTransactionRolledBackError,
  isTransactionStateError,
  type OutboxOptions,
} from '../../src/index.js'

const servers = serversForFile()
const { fixture } = servers

const outbox: OutboxOptions = {
  destinations: {
    'order-events': { broker: 'rabbitmq' },
    small: { broker: 'nats', maxMessageBytes: 100 },
  },
}

interface OutboxRowRead {
  id: string
  destination: string
  message_key: string | null
  key_seq: string | null
  headers: string
  body: Buffer
  content_type: string
  gtrid: string
  state: string
}

async function twoPostgres() {
  const [urlA, urlB] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
  const a = fixture.pg(urlA ?? '', 'a')
  const b = fixture.pg(urlB ?? '', 'b')
  for (const { pool } of [a, b]) await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  await createOutboxTables(a.db)
  await createOutboxTables(b.db)
  return { a, b }
}

function urlOf(pool: pg.Pool): string {
  return (pool.options as { connectionString: string }).connectionString
}

async function rows(pool: pg.Pool): Promise<OutboxRowRead[]> {
  const { rows } = await pool.query<OutboxRowRead>('SELECT * FROM txkit_outbox ORDER BY position')
  return rows
}

describe('outbox on PostgreSQL', () => {
  test('a committed transaction writes its messages with the decision; a rolled back one writes none', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    const id = await coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
      await branches.a.query("INSERT INTO marks VALUES ('one')")
      await branches.b.query("INSERT INTO marks VALUES ('one')")
      return tx.outbox.send('order-events', { order: 1, note: 'ünïcode' }, { key: 'o-1' })
    })
    const written = await rows(a.pool)
    assert.equal(written.length, 1)
    assert.equal(written[0]?.id, id)
    assert.equal(written[0]?.message_key, 'o-1')
    assert.equal(String(written[0]?.key_seq), '1')
    assert.equal(written[0]?.content_type, 'application/json')
    assert.deepEqual(JSON.parse(written[0]?.body.toString('utf8') ?? ''), { order: 1, note: 'ünïcode' })
    assert.equal((await rows(b.pool)).length, 0, 'written on the decision database only')

    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        await branches.a.query("INSERT INTO marks VALUES ('two')")
        tx.outbox.send('order-events', { order: 2 })
        throw new Error('changed my mind')
      }),
      /changed my mind/,
    )
    assert.equal((await rows(a.pool)).length, 1, 'nothing of the rolled back transaction')
  })

  test('the commit notifies listening relays, a rollback does not', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    const listener = new pg.Client({ connectionString: urlOf(a.pool) })
    await listener.connect()
    const heard: string[] = []
    listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`))
    await listener.query('LISTEN "txkit_outbox"')
    try {
      let gtrid = ''
      await coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        gtrid = tx.gtrid
        await branches.b.query("INSERT INTO marks VALUES ('n')")
        tx.outbox.send('order-events', 'hello')
      })
      await assert.rejects(
        coordinator.transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
          tx.outbox.send('order-events', 'never')
          throw new Error('no')
        }),
      )
      await listener.query('SELECT 1')
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.deepEqual(heard, [`txkit_outbox:${gtrid}`])
    } finally {
      await listener.end()
    }
  })
})
