import type { Database } from '../database/database.js'
import { outboxTables } from '../dialect/outbox-store-dialect.js'
import type { TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { MessageRefusedError } from '../errors/message-refused-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'

/** One destination a transaction may send to. */
export interface DestinationOptions {
  /** The name the relay is given this destination's broker under (`brokers: { rabbitmq: … }`). */
  readonly broker: string
  /**
   * Where on that broker: the exchange (RabbitMQ), the subject (NATS JetStream), the stream key
   * (Redis Streams), the queue (BullMQ). Default: the destination's own name.
   */
  readonly address?: string
  /**
   * The largest message accepted at send (bytes of body, headers and id). Default: the broker's
   * own default limit when `broker` names one (`rabbitmq` 16 MiB, `nats` 1 MiB, `redis` and
   * `bullmq` 64 MiB), else 1 MiB.
   */
  readonly maxMessageBytes?: number
}

/** The outbox of a coordinator or a transaction manager (`outbox:` option). */
export interface OutboxOptions {
  /** Every destination a transaction may send to, by name; any other is refused at send. */
  readonly destinations: Readonly<Record<string, DestinationOptions>>
  /**
   * The outbox table, in every database a message may be written to. Default `txkit_outbox`
   * (its key table is `<table>_key`).
   */
  readonly table?: string
  /**
   * Where every message is written. Default: the database that decides the transaction when it
   * takes part (its commit is the decision), else the transaction's first database.
   */
  readonly database?: Database
}

/** A destination, checked. */
export interface Destination {
  readonly name: string
  readonly broker: string
  readonly address: string
  readonly maxMessageBytes: number
}

const MiB = 1024 * 1024
/** Each broker's default limit on one message, where the broker name says which broker it is. */
export const BROKER_MESSAGE_LIMITS: Readonly<Record<string, number>> = {
  rabbitmq: 16 * MiB,
  nats: MiB,
  redis: 64 * MiB,
  bullmq: 64 * MiB,
}
const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,199}$/
const OUTBOX_OPTIONS = new Set(['destinations', 'table', 'database'])
const DESTINATION_OPTIONS = new Set(['broker', 'address', 'maxMessageBytes'])

/** The outbox option, checked once: its tables and destinations. */
export class OutboxDefinition {
  readonly table: TableName
  readonly keyTable: TableName
  /** The PostgreSQL channel a commit's NOTIFY wakes relays on. */
  readonly channel: string
  readonly destinations: ReadonlyMap<string, Destination>
  readonly database: Database | undefined

  constructor(options: OutboxOptions, where: string) {
    checkOptionNames(options, OUTBOX_OPTIONS, `${where} outbox`)
    const tables = outboxTables(options.table)
    this.table = tables.table
    this.keyTable = tables.keyTable
    this.channel = outboxChannel(this.table)
    this.database = options.database
    const destinations = options.destinations
    if (destinations === null || typeof destinations !== 'object') {
      throw new ConfigurationError(
        `${where} outbox needs destinations: { name: { broker: 'rabbitmq' } }, not ${describeValue(destinations)}.`,
      )
    }
    const checked = new Map<string, Destination>()
    for (const [name, destination] of Object.entries(destinations)) {
      checked.set(name, checkDestination(name, destination, where))
    }
    this.destinations = checked
  }

  /** @throws MessageRefusedError (`destination`) for a destination not configured. */
  destination(name: unknown): Destination {
    const found = typeof name === 'string' ? this.destinations.get(name) : undefined
    if (found !== undefined) return found
    const known = [...this.destinations.keys()].map((each) => `"${each}"`).join(', ')
    throw new MessageRefusedError(
      'destination',
      `Unknown message destination ${describeValue(name)}: the outbox knows ${known || 'none'}. Add it to the outbox's destinations.`,
    )
  }
}

/**
 * Checks an `outbox` option.
 *
 * @throws ConfigurationError naming the bad part.
 * @example
 * ```ts
 * const outbox = defineOutbox({ destinations: { orders: { broker: 'rabbitmq' } } }, 'createCoordinator()')
 * ```
 */
export function defineOutbox(options: OutboxOptions, where: string): OutboxDefinition {
  if (options instanceof OutboxDefinition) return options
  return new OutboxDefinition(options, where)
}

/** The channel a relay of `table` listens on. */
export function outboxChannel(table: TableName): string {
  return table.schema === undefined ? table.name : `${table.schema}.${table.name}`
}

function checkDestination(name: string, options: DestinationOptions, where: string): Destination {
  if (!NAME.test(name)) {
    throw new ConfigurationError(
      `Invalid outbox destination name ${describeValue(name)}: use letters, digits and . _ : / - (at most 200).`,
    )
  }
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(
      `Outbox destination "${name}" takes { broker: 'rabbitmq' | 'nats' | 'redis' | 'bullmq' | … }, not ${describeValue(options)}.`,
    )
  }
  checkOptionNames(options, DESTINATION_OPTIONS, `${where} outbox destination "${name}"`)
  if (typeof options.broker !== 'string' || !NAME.test(options.broker)) {
    throw new ConfigurationError(
      `Outbox destination "${name}" needs broker: the name its relay is given the broker under (such as 'rabbitmq'), not ${describeValue(options.broker)}.`,
    )
  }
  const address = options.address ?? name
  if (typeof address !== 'string' || !NAME.test(address)) {
    throw new ConfigurationError(
      `Outbox destination "${name}" has an invalid address ${describeValue(address)}.`,
    )
  }
  const limit = options.maxMessageBytes ?? BROKER_MESSAGE_LIMITS[options.broker] ?? 1024 * 1024
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ConfigurationError(
      `Outbox destination "${name}": maxMessageBytes is a positive whole number of bytes, not ${describeValue(limit)}.`,
    )
  }
  return { name, broker: options.broker, address, maxMessageBytes: limit }
}
