/**
 * The one place the outbox benchmarks reach txkit's relay (src/relay, `createRelay`): started on
 * one database with one broker named `bench`, stopped, and its published count.
 */
import type { Database } from '../src/database/database.js'
import type { MessageBroker } from '../src/message/message-broker.js'
import type { OutboxOptions } from '../src/message/outbox-options.js'

export interface BenchRelay {
  stop(): Promise<void>
}

/** The destinations every outbox benchmark sends to: `events`, on the broker named `bench`. */
export function benchOutbox(address = 'events'): OutboxOptions {
  return { destinations: { events: { broker: 'bench', address } } }
}

/**
 * Starts txkit's relay on `database`'s outbox, publishing to `broker`; resolves once it runs
 * (tables checked, broker started, LISTEN under way).
 */
export async function startRelay(
  database: Database,
  broker: MessageBroker,
  options: { address?: string; batchSize?: number } = {},
): Promise<BenchRelay> {
  // ADAPTER POINT: createRelay from src/relay/relay.ts (branch wip-relay). Imported by a computed
  // path so that this file compiles before the relay is merged.
  const path = '../src/relay/relay.js'
  const { createRelay } = (await import(path)) as {
    createRelay(options: Record<string, unknown>): { start(): Promise<void>; stop(): Promise<void> }
  }
  const relay = createRelay({
    databases: [database],
    outbox: benchOutbox(options.address),
    brokers: { bench: broker },
    batchSize: options.batchSize ?? 200,
    gcInterval: 0,
  })
  await relay.start()
  return relay
}
