/**
 * What the outbox benchmarks publish to and compare with: an in-memory broker, a hand-written
 * relay polling every 100 ms, and a backlog of committed messages written straight into the table.
 */
import type pg from 'pg'
import type {
  MessageBroker,
  PublishOutcome,
  RelayedMessage,
} from '../src/message/message-broker.js'
import { sleep } from './outbox-rounds.js'

/**
 * A broker in memory: takes every message (after one turn of the event loop per batch, as a
 * network client would), and notes when each message id was first published.
 */
export class FakeBroker implements MessageBroker {
  readonly kind = 'fake'
  readonly maxMessageBytes = 16 * 1024 * 1024
  /** Message id → `performance.now()` of its first publish. */
  readonly publishedAt = new Map<string, number>()
  published = 0
  /** Called with the running count after each batch. */
  onPublished: ((published: number) => void) | undefined
  readonly #track: boolean
  #waiting: { count: number; resolve: () => void } | undefined

  /** `track: false` keeps no per-message state, only the count. */
  constructor(options: { track?: boolean } = {}) {
    this.#track = options.track ?? true
  }

  async start(): Promise<void> {}

  async publish(messages: readonly RelayedMessage[]): Promise<PublishOutcome[]> {
    await new Promise<void>((resolve) => setImmediate(resolve))
    const now = performance.now()
    if (this.#track) {
      for (const message of messages) {
        if (!this.publishedAt.has(message.id)) this.publishedAt.set(message.id, now)
      }
    }
    this.published += messages.length
    this.onPublished?.(this.published)
    if (this.#waiting !== undefined && this.published >= this.#waiting.count) {
      this.#waiting.resolve()
      this.#waiting = undefined
    }
    return messages.map(() => ({ status: 'published' }))
  }

  /** Resolves once `count` messages were published in all (counting repeats). */
  until(count: number): Promise<void> {
    if (this.published >= count) return Promise.resolve()
    return new Promise((resolve) => {
      this.#waiting = { count, resolve }
    })
  }

  reset(): void {
    this.publishedAt.clear()
    this.published = 0
  }

  async close(): Promise<void> {}
}

interface PendingRow {
  position: string
  id: string
  destination: string
  message_key: string | null
  headers: string
  body: Buffer
  content_type: string
  attempts: number
}

/**
 * The relay people write by hand: every 100 ms, in one transaction, `SELECT … FOR UPDATE SKIP
 * LOCKED` the pending messages, publish them, mark them delivered, commit. No NOTIFY, no keys'
 * order, no retries. `stop()` ends the loop after its current pass.
 */
export class PollingRelay {
  #stopped = false
  readonly #loop: Promise<void>

  constructor(
    pool: pg.Pool,
    broker: MessageBroker,
    options: { table?: string; intervalMs?: number; batchSize?: number } = {},
  ) {
    const table = options.table ?? 'txkit_outbox'
    const interval = options.intervalMs ?? 100
    const batchSize = options.batchSize ?? 200
    const pass = async (): Promise<number> => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        const { rows } = await client.query<PendingRow>(
          `SELECT position::text AS position, id, destination, message_key, headers, body, content_type, attempts
           FROM ${table} WHERE state = 'P' ORDER BY position LIMIT $1 FOR UPDATE SKIP LOCKED`,
          [batchSize],
        )
        if (rows.length > 0) {
          const outcomes = await broker.publish(
            rows.map((row) => ({
              id: row.id,
              destination: row.destination,
              address: row.destination,
              key: row.message_key,
              headers: JSON.parse(row.headers) as Record<string, string>,
              body: row.body,
              contentType: row.content_type,
              attempts: row.attempts,
            })),
          )
          const done = rows.filter((_, index) => outcomes[index]?.status === 'published')
          await client.query(
            `UPDATE ${table} SET state = 'D', attempts = attempts + 1, published_at = now()
             WHERE position = ANY($1::bigint[])`,
            [done.map((row) => row.position)],
          )
        }
        await client.query('COMMIT')
        return rows.length
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined)
        throw error
      } finally {
        client.release()
      }
    }
    this.#loop = (async () => {
      while (!this.#stopped) {
        const found = await pass()
        if (found < batchSize && !this.#stopped) await sleep(interval)
      }
    })()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    await this.#loop
  }
}

/** Empties the outbox. */
export async function truncateOutbox(pool: pg.Pool): Promise<void> {
  await pool.query('TRUNCATE txkit_outbox')
}

/**
 * Writes `count` committed, pending messages into the outbox at once (server-side, 50,000 rows
 * per statement), as a backlog a relay finds when it starts: JSON bodies of about 80 bytes,
 * keyed over 1,000 keys (a key's order is its messages' positions).
 */
export async function insertBacklog(pool: pg.Pool, count: number, tag: string): Promise<void> {
  for (let from = 0; from < count; from += 50_000) {
    await pool.query(
      `INSERT INTO txkit_outbox (id, destination, message_key, headers, body, content_type, gtrid)
       SELECT $1 || '-' || g, 'events', 'k' || (g % 1000), '{"source":"bench"}',
         convert_to('{"order":' || g || ',"total":12.5,"note":"a backlog message of the bench"}', 'UTF8'),
         'application/json', $1
       FROM generate_series($2::bigint, $3::bigint) g`,
      [tag, from, Math.min(count, from + 50_000) - 1],
    )
  }
  await pool.query('ANALYZE txkit_outbox')
}
