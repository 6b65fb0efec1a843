import type { Database } from '../database/database.js'
import type {
  ClaimedMessage,
  OutboxStoreDialect,
  OutboxTables,
} from '../dialect/outbox-store-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import type { RelaySettings } from './relay-options.js'
import { outboxStoreOf } from './relay-options.js'
import { type PublishOrder, publishOrder } from './relay-order.js'
import { publishReady } from './relay-publish.js'

/** What one batch did. */
export interface BatchCounts {
  /** Messages claimed (locked) by the batch. */
  readonly claimed: number
  readonly published: number
  /** Failed tries, to be retried. */
  readonly failed: number
  readonly deadLettered: number
  /** Claimed but left pending: their key's turn had not come. */
  readonly skipped: number
  /** Commit→publish lag of the batch's last published message. */
  readonly lastLagMs: number | undefined
}

/** Which of `claimed` may go now, by their keys' pending messages. */
async function inTurn(
  connection: DriverConnection,
  store: OutboxStoreDialect,
  tables: OutboxTables,
  claimed: readonly ClaimedMessage[],
): Promise<PublishOrder> {
  const upTo = new Map<string, number>()
  for (const { key, keySeq } of claimed) {
    if (key !== null && keySeq !== null) upTo.set(key, Math.max(upTo.get(key) ?? keySeq, keySeq))
  }
  return publishOrder(claimed, await store.pendingTurns(connection, tables, upTo))
}

/**
 * The wait before the try after `attempts` tries: doubling from `initial`, at most `max`.
 *
 * @example
 * ```ts
 * retryDelay(3, 1000, 300_000) // 4000
 * ```
 */
export function retryDelay(attempts: number, initial: number, max: number): number {
  return Math.min(max, initial * 2 ** Math.max(0, attempts - 1))
}

/**
 * One batch on `database`, in one transaction on one pooled connection: claim up to `batchSize`
 * pending messages (rows other relays hold are skipped), publish those whose turn it is, record
 * what became of each, commit. A relay that dies before the commit leaves every claimed row
 * pending: the next batch publishes it again (at least once).
 *
 * @example
 * ```ts
 * const counts = await relayBatch(orders, settings)
 * ```
 */
export async function relayBatch(
  database: Database,
  settings: RelaySettings,
): Promise<BatchCounts> {
  const store = outboxStoreOf(database)
  const { tables } = settings
  const connection = await database.acquire()
  let open = false
  try {
    await store.begin(connection)
    open = true
    const claimed = await store.claim(connection, tables, settings.batchSize)
    const claimedAt = performance.now()
    if (claimed.length === 0) {
      await store.commit(connection)
      open = false
      connection.release(false)
      return {
        claimed: 0,
        published: 0,
        failed: 0,
        deadLettered: 0,
        skipped: 0,
        lastLagMs: undefined,
      }
    }
    let order = await inTurn(connection, store, tables, claimed)
    if (claimed.length === settings.batchSize && order.skipped > 0) {
      // The batch is full of keys whose turn has not come (one waits for its retry, or another
      // relay holds it): claim once more past them, lest they hide other keys' messages.
      const ready = new Set(order.ready)
      const skipKeys = [...new Set(claimed.flatMap((m) => (ready.has(m) ? [] : (m.key ?? []))))]
      const after = claimed.at(-1)?.position as string
      const more = await store.claim(connection, tables, order.skipped, { after, skipKeys })
      if (more.length > 0) {
        claimed.push(...more)
        order = await inTurn(connection, store, tables, claimed)
      }
    }
    const results = await publishReady(order.ready, settings.outbox, settings.brokers, claimedAt)
    await store.markPublished(connection, tables, results.published)
    let deadLettered = results.dead.length
    for (const { message, reason } of results.dead) {
      await store.markDead(connection, tables, message.position, reason)
    }
    for (const { message, error } of results.failed) {
      const tries = message.attempts + 1
      if (tries >= settings.maxAttempts) {
        deadLettered++
        await store.markDead(
          connection,
          tables,
          message.position,
          `failed ${tries} times; last error: ${error}`,
        )
      } else {
        const delay = retryDelay(tries, settings.retryInitial, settings.retryMax)
        await store.markFailed(connection, tables, message.position, error, delay)
      }
    }
    await store.commit(connection)
    open = false
    connection.release(false)
    return {
      claimed: claimed.length,
      published: results.published.length,
      failed: results.failed.length,
      deadLettered,
      skipped: order.skipped,
      lastLagMs: results.lastLagMs,
    }
  } catch (error) {
    if (open) await store.rollback(connection).catch(() => undefined)
    connection.release(true)
    throw error
  }
}
