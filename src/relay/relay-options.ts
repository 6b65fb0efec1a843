import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import type { OutboxStoreDialect, OutboxTables } from '../dialect/outbox-store-dialect.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { MessageBroker } from '../message/message-broker.js'
import { defineOutbox, OutboxDefinition, type OutboxOptions } from '../message/outbox-options.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { type Logger, silentLogger } from '../util/logger.js'

/** What `createRelay` takes. */
export interface RelayOptions {
  /** The databases whose outbox the relay publishes (each holds the outbox tables). */
  readonly databases: readonly Database[]
  /**
   * The outbox, as the writers' coordinator or manager has it (the same object works): its
   * destinations name the broker each is published to, and its table.
   */
  readonly outbox: OutboxOptions | OutboxDefinition
  /** The brokers by the names the destinations give (`{ rabbitmq: amqpBroker(…) }`). */
  readonly brokers: Readonly<Record<string, MessageBroker>>
  /** Messages claimed per batch transaction (default 200): at most this many in memory. */
  readonly batchSize?: number
  /**
   * Batches of one database running at once: while messages wait, one batch publishes while the
   * next claims. Default 2 on PostgreSQL, 1 on MySQL/MariaDB; 1 runs them one after another.
   */
  readonly parallelBatches?: number
  /** Tries before a message that keeps failing is dead-lettered (default 10). */
  readonly maxAttempts?: number
  /** The wait before a failed message is tried again: doubling from `initial` to `max`. */
  readonly retryDelay?: { readonly initial?: number; readonly max?: number }
  /**
   * Time between passes in ms: `min` right after a pass that found work, doubling to `max` while
   * idle (default 100 and 5000). With PostgreSQL a commit's notification wakes the relay at once;
   * the poll catches what a notification missed.
   */
  readonly pollInterval?: { readonly min?: number; readonly max?: number }
  /** Listen for commits' notifications where the database sends them (default true). */
  readonly listen?: boolean
  /** How long delivered messages and idle key rows are kept, ms (default 7 days). */
  readonly retention?: number
  /** How often the relay collects garbage while running, ms (default 1 hour; 0: never). */
  readonly gcInterval?: number
  readonly logger?: Logger
}

/** The options, checked, with their defaults. */
export interface RelaySettings {
  readonly databases: readonly Database[]
  readonly outbox: OutboxDefinition
  readonly tables: OutboxTables
  readonly brokers: ReadonlyMap<string, MessageBroker>
  readonly batchSize: number
  /** Undefined: each database's default (`OutboxStoreDialect.defaultParallelBatches`). */
  readonly parallelBatches: number | undefined
  readonly maxAttempts: number
  readonly retryInitial: number
  readonly retryMax: number
  readonly pollMin: number
  readonly pollMax: number
  readonly listen: boolean
  readonly retention: number
  readonly gcInterval: number
  readonly logger: Logger
}

const OPTIONS = new Set([
  'databases',
  'outbox',
  'brokers',
  'batchSize',
  'parallelBatches',
  'maxAttempts',
  'retryDelay',
  'pollInterval',
  'listen',
  'retention',
  'gcInterval',
  'logger',
])
const RANGE = new Set(['min', 'max'])
const RETRY = new Set(['initial', 'max'])
const DAY = 24 * 3600 * 1000

/**
 * The store dialect of `database`, or a ConfigurationError.
 *
 * @example
 * ```ts
 * const store = outboxStoreOf(orders)
 * ```
 */
export function outboxStoreOf(database: Database): OutboxStoreDialect {
  const store = database.dialect.outboxStore
  if (store === undefined) {
    throw new ConfigurationError(
      `Database "${database.name}" (${database.dialect.displayName}) cannot hold an outbox: a relay cannot publish from it.`,
    )
  }
  return store
}

/**
 * Checks `createRelay`'s options.
 *
 * @throws ConfigurationError naming the bad option.
 * @example
 * ```ts
 * const settings = relaySettings({ databases: [orders], outbox, brokers: { rabbitmq } })
 * ```
 */
export function relaySettings(options: RelayOptions): RelaySettings {
  checkOptionNames(options, OPTIONS, 'createRelay()')
  const databases = Array.isArray(options.databases) ? options.databases : undefined
  if (databases === undefined || databases.length === 0) {
    throw new ConfigurationError(
      'createRelay() needs databases: [db, …], the databases whose outbox it publishes.',
    )
  }
  const names = new Set<string>()
  for (const database of databases) {
    assertDatabase(database, 'createRelay() databases')
    outboxStoreOf(database)
    if (names.has(database.name)) {
      throw new ConfigurationError(`createRelay() is given database "${database.name}" twice.`)
    }
    names.add(database.name)
  }
  if (options.outbox === undefined) {
    throw new ConfigurationError(
      "createRelay() needs outbox: { destinations: { name: { broker: 'rabbitmq' } } }, as the writers have it.",
    )
  }
  const outbox =
    options.outbox instanceof OutboxDefinition
      ? options.outbox
      : defineOutbox(options.outbox, 'createRelay()')
  const brokers = checkBrokers(options.brokers, outbox)
  const poll = options.pollInterval ?? {}
  checkOptionNames(poll, RANGE, 'createRelay() pollInterval')
  const retry = options.retryDelay ?? {}
  checkOptionNames(retry, RETRY, 'createRelay() retryDelay')
  const pollMin = whole(poll.min ?? 100, 'pollInterval.min', 1)
  const pollMax = whole(poll.max ?? Math.max(5000, pollMin), 'pollInterval.max', pollMin)
  const retryInitial = whole(retry.initial ?? 1000, 'retryDelay.initial', 0)
  return {
    databases,
    outbox,
    tables: { table: outbox.table, keyTable: outbox.keyTable },
    brokers,
    batchSize: whole(options.batchSize ?? 200, 'batchSize', 1),
    parallelBatches:
      options.parallelBatches === undefined
        ? undefined
        : whole(options.parallelBatches, 'parallelBatches', 1),
    maxAttempts: whole(options.maxAttempts ?? 10, 'maxAttempts', 1),
    retryInitial,
    retryMax: whole(retry.max ?? Math.max(300_000, retryInitial), 'retryDelay.max', retryInitial),
    pollMin,
    pollMax,
    listen: options.listen ?? true,
    retention: whole(options.retention ?? 7 * DAY, 'retention', 0),
    gcInterval: whole(options.gcInterval ?? 3600_000, 'gcInterval', 0),
    logger: options.logger ?? silentLogger,
  }
}

function checkBrokers(
  brokers: RelayOptions['brokers'],
  outbox: OutboxDefinition,
): Map<string, MessageBroker> {
  if (brokers === null || typeof brokers !== 'object') {
    throw new ConfigurationError(
      `createRelay() needs brokers: { name: broker }, not ${describeValue(brokers)}.`,
    )
  }
  const checked = new Map<string, MessageBroker>()
  for (const [name, broker] of Object.entries(brokers)) {
    if (
      broker === null ||
      typeof broker !== 'object' ||
      typeof broker.publish !== 'function' ||
      typeof broker.start !== 'function'
    ) {
      throw new ConfigurationError(
        `createRelay() broker "${name}" is not a MessageBroker (start, publish, close): ${describeValue(broker)}.`,
      )
    }
    checked.set(name, broker)
  }
  for (const destination of outbox.destinations.values()) {
    if (!checked.has(destination.broker)) {
      throw new ConfigurationError(
        `Outbox destination "${destination.name}" is published to broker "${destination.broker}", which createRelay() is not given: add brokers: { ${destination.broker}: … }.`,
      )
    }
  }
  return checked
}

function whole(value: unknown, name: string, least: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < least) {
    throw new ConfigurationError(
      `createRelay() ${name} is a whole number of at least ${least}, not ${describeValue(value)}.`,
    )
  }
  return value
}
