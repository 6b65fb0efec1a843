/**
 * What the relay tests share: an in-memory broker that records every publish, and a database with
 * the outbox tables and a coordinator sending into it (PostgreSQL or MariaDB).
 */

import type { Target, TestDatabase } from '../../harness/commit-targets.js'
import type { Fixture } from '../../harness/fixture.js'
import {
  createOutboxTables,
  type MessageBroker,
  type OutboxOptions,
  type PublishOutcome,
  type RelayedMessage,
} from '../../src/index.js'

/** One publish as the fake broker saw it. */
export interface Published {
  readonly id: string
  readonly key: string | null
  readonly destination: string
  readonly address: string
  readonly attempts: number
  /** Which broker object (which relay) published it. */
  readonly by: string
}

/** An in-memory broker: records every message published, refuses or fails those it is told to. */
export class FakeBroker implements MessageBroker {
  readonly kind = 'fake'
  readonly maxMessageBytes: number
  readonly name: string
  readonly log: Published[]
  readonly refuse = new Set<string>()
  readonly fail = new Set<string>()
  /** Every publish fails: the broker is down. */
  down = false
  /** Publishes wait for this while set. */
  gate: Promise<void> | undefined
  /** Called when a publish starts waiting at the gate. */
  onBlocked: (() => void) | undefined
  readonly started: string[][] = []
  publishCalls = 0
  closed = false

  constructor(name: string, log: Published[] = [], maxMessageBytes = 1024 * 1024) {
    this.name = name
    this.log = log
    this.maxMessageBytes = maxMessageBytes
  }

  async start(addresses: readonly string[]): Promise<void> {
    this.started.push([...addresses])
  }

  async publish(messages: readonly RelayedMessage[]): Promise<PublishOutcome[]> {
    this.publishCalls++
    if (this.gate !== undefined) {
      this.onBlocked?.()
      await this.gate
    }
    await new Promise((resolve) => setImmediate(resolve))
    if (this.down) throw new Error('connect ECONNREFUSED 127.0.0.1:5672')
    return messages.map((message): PublishOutcome => {
      if (this.refuse.has(message.id)) return { status: 'refused', reason: 'no route to queue' }
      if (this.fail.has(message.id)) return { status: 'failed', error: new Error('timeout') }
      this.log.push({
        id: message.id,
        key: message.key,
        destination: message.destination,
        address: message.address,
        attempts: message.attempts,
        by: this.name,
      })
      return { status: 'published' }
    })
  }

  async close(): Promise<void> {
    this.closed = true
  }
}

export const outbox: OutboxOptions = {
  destinations: {
    orders: { broker: 'fake', address: 'orders-exchange' },
    audit: { broker: 'fake' },
  },
}

/** A message to send: destination `orders` unless said, a key, a payload. */
export interface ToSend {
  readonly destination?: string
  readonly key?: string
  readonly payload?: unknown
  readonly id?: string
}

/** A database of `target` with the outbox tables, and `send` committing messages into it. */
export async function outboxDatabase(
  fixture: Fixture,
  target: Target,
  name = 'm',
  options: OutboxOptions = outbox,
) {
  const database: TestDatabase = await target.database(name)
  await createOutboxTables(database.db)
  const coordinator = fixture.coordinator({ decisionLog: database.db, outbox: options })
  await coordinator.createDecisionLog()
  /** Commits one transaction sending `messages`; answers their ids. */
  const send = (messages: readonly ToSend[]): Promise<string[]> =>
    coordinator.transaction({ m: database.db }, async (_branches, tx) =>
      messages.map((message) =>
        tx.outbox.send(message.destination ?? 'orders', message.payload ?? { n: 1 }, {
          ...(message.key !== undefined && { key: message.key }),
          ...(message.id !== undefined && { id: message.id }),
        }),
      ),
    )
  /** The outbox's rows, by position. */
  const rows = async () =>
    (
      await database.query(
        // A key's order: its numbers (MySQL/MariaDB), or the positions (PostgreSQL).
        'SELECT id, message_key, CASE WHEN message_key IS NULL THEN NULL ELSE COALESCE(key_seq, position) END AS key_seq, state, attempts, last_error FROM txkit_outbox ORDER BY position',
      )
    ).map((row) => ({
      id: String(row.id),
      key: row.message_key === null ? null : String(row.message_key),
      seq: row.key_seq === null ? null : Number(row.key_seq),
      state: String(row.state),
      attempts: Number(row.attempts),
      lastError: row.last_error === null ? null : String(row.last_error),
    }))
  return { ...database, coordinator, send, rows }
}

/** Waits until `check` answers true, polling; fails after `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  ms: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
