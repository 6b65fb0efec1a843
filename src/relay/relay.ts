import type { Database } from '../database/database.js'
import { BrokerSetupError, isBrokerSetupError } from '../errors/broker-setup-error.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { errorMessage } from '../util/error-message.js'
import { checkOutboxTables, collectOutboxGarbage, type OutboxGarbage } from './outbox-admin.js'
import type { BatchCounts } from './relay-batch.js'
import { RelayLane } from './relay-lane.js'
import { RelayCounters, type RelayMetrics } from './relay-metrics.js'
import { type RelayOptions, type RelaySettings, relaySettings } from './relay-options.js'

/** What one pass over every database did. */
export type RelayPassCounts = Omit<BatchCounts, 'lastLagMs'>

/**
 * Publishes committed outbox messages to their brokers (docs/outbox.md). Create it with
 * {@link createRelay}; `start()` runs it until `stop()`, `runOnce()` runs one pass.
 *
 * @example
 * ```ts
 * const relay = createRelay({ databases: [orders], outbox, brokers: { rabbitmq } })
 * const { published } = await relay.runOnce()
 * ```
 */
export class Relay {
  readonly #settings: RelaySettings
  readonly #counters = new RelayCounters()
  readonly #lanes: RelayLane[]
  #prepared: Promise<void> | undefined
  #state: 'new' | 'running' | 'stopped' = 'new'

  /** @internal Use {@link createRelay}. */
  constructor(options: RelayOptions) {
    this.#settings = relaySettings(options)
    this.#lanes = this.#settings.databases.map(
      (database) => new RelayLane(database, this.#settings, this.#counters),
    )
  }

  /** The relay's counters since it was created. */
  get metrics(): RelayMetrics {
    return this.#counters.snapshot()
  }

  /** Checks the tables of every database, then starts each broker with its addresses. */
  #prepare(): Promise<void> {
    this.#prepared ??= this.#checkAndStart().catch((error: unknown) => {
      this.#prepared = undefined
      throw error
    })
    return this.#prepared
  }

  async #checkAndStart(): Promise<void> {
    for (const database of this.#settings.databases) {
      await checkOutboxTables(database, this.#settings.tables)
    }
    for (const [name, broker] of this.#settings.brokers) {
      const addresses = [...this.#settings.outbox.destinations.values()]
        .filter((destination) => destination.broker === name)
        .map((destination) => destination.address)
      try {
        await broker.start([...new Set(addresses)])
      } catch (error) {
        if (isBrokerSetupError(error)) throw error
        throw new BrokerSetupError(
          `Broker "${name}" (${broker.kind}) could not start: ${errorMessage(error)}`,
          { cause: error },
        )
      }
    }
    await Promise.all(this.#lanes.map((lane) => lane.count().catch(() => undefined)))
  }

  /**
   * Checks every database's outbox tables and starts the brokers, then publishes until `stop()`:
   * a loop per database, one batch at a time, woken by commits' notifications where the
   * database sends them (PostgreSQL) and polling adaptively besides.
   *
   * @throws BrokerSetupError for a missing or wrong outbox table, or a broker that will not start.
   */
  async start(): Promise<void> {
    if (this.#state !== 'new') {
      throw new ConfigurationError(`The relay is ${this.#state}: start() a relay once.`)
    }
    await this.#prepare()
    this.#state = 'running'
    const collect = (database: Database) => this.#collect(database).then(() => undefined)
    for (const lane of this.#lanes) lane.start(collect)
    this.#settings.logger.info?.(
      { databases: this.#settings.databases.map((database) => database.name) },
      'txkit relay: started',
    )
  }

  /**
   * One batch on every database (after the current one, if the relay is running): what it
   * claimed, published, retried, dead-lettered and left for later. Checks the tables and starts
   * the brokers first, once.
   *
   * @throws the first database's error when a batch failed (the others still ran).
   */
  async runOnce(): Promise<RelayPassCounts> {
    await this.#prepare()
    const results = await Promise.allSettled(this.#lanes.map((lane) => lane.batch()))
    const total = { claimed: 0, published: 0, failed: 0, deadLettered: 0, skipped: 0 }
    for (const result of results) {
      if (result.status === 'rejected') throw result.reason
      for (const name of Object.keys(total) as Array<keyof typeof total>) {
        total[name] += result.value[name]
      }
    }
    return total
  }

  /** Deletes delivered messages and idle key rows older than `retention`, in every database. */
  async collectGarbage(): Promise<OutboxGarbage> {
    const total = { deleted: 0, keysDeleted: 0 }
    for (const database of this.#settings.databases) {
      const done = await this.#collect(database)
      total.deleted += done.deleted
      total.keysDeleted += done.keysDeleted
    }
    return total
  }

  #collect(database: Database): Promise<OutboxGarbage> {
    const table = this.#settings.outbox.table
    return collectOutboxGarbage(database, {
      table: table.schema === undefined ? table.name : `${table.schema}.${table.name}`,
      retention: this.#settings.retention,
    })
  }

  /** Lets each database's current batch finish, stops the loops, closes the brokers. */
  async stop(): Promise<void> {
    if (this.#state === 'stopped') return
    const wasRunning = this.#state === 'running' || this.#prepared !== undefined
    this.#state = 'stopped'
    await Promise.all(this.#lanes.map((lane) => lane.stop()))
    if (wasRunning) {
      for (const broker of this.#settings.brokers.values()) {
        await broker.close().catch(() => undefined)
      }
    }
    this.#settings.logger.info?.({}, 'txkit relay: stopped')
  }
}

/**
 * A relay publishing the committed messages of `databases`' outboxes to `brokers`: in per-key
 * order, at least once (brokers that deduplicate by id make it effectively once), several relays
 * at once if you like (each claims rows the others do not hold).
 *
 * @throws ConfigurationError for an unknown option, a destination whose broker is not given, a
 *   database that cannot hold an outbox.
 * @example
 * ```ts
 * import { createRelay } from 'txkit'
 * import { amqpBroker } from 'txkit/amqplib'
 *
 * const relay = createRelay({ databases: [orders], outbox, brokers: { rabbitmq: amqpBroker(channel) } })
 * await relay.start()
 * process.once('SIGTERM', () => relay.stop())
 * ```
 */
export function createRelay(options: RelayOptions): Relay {
  return new Relay(options)
}
