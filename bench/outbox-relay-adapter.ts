/**
 * The one place the outbox benchmarks reach txkit's relay (`createRelay`): started on one
 * database with one broker named `bench`, and stopped.
 */
import type { Database } from '../src/database/database.js'
import { createRelay, type Relay } from '../src/index.js'
import type { MessageBroker } from '../src/message/message-broker.js'
import type { OutboxOptions } from '../src/message/outbox-options.js'

/** The destinations every outbox benchmark sends to: `events`, on the broker named `bench`. */
export function benchOutbox(address = 'events'): OutboxOptions {
  return { destinations: { events: { broker: 'bench', address } } }
}

/**
 * Starts txkit's relay on `database`'s outbox, publishing to `broker`, with its defaults but the
 * batch size and no garbage collection; resolves once it runs (tables checked, broker started).
 */
export async function startRelay(
  database: Database,
  broker: MessageBroker,
  options: { address?: string; batchSize?: number } = {},
): Promise<Relay> {
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
