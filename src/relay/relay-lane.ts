import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import { errorMessage } from '../util/error-message.js'
import { type BatchCounts, relayBatch, retryDelay } from './relay-batch.js'
import { OutboxListener } from './relay-listener.js'
import type { RelayCounters } from './relay-metrics.js'
import { outboxStoreOf, type RelaySettings } from './relay-options.js'

/** How often a running relay counts the pending messages, ms. */
const COUNT_EVERY_MS = 2000

/**
 * One database of a relay: its batches, at most `parallelBatches` at once (the loops' and
 * `runOnce`'s alike), the loops that poll adaptively, and the LISTEN that wakes them.
 *
 * @example
 * ```ts
 * const lane = new RelayLane(orders, settings, counters)
 * const counts = await lane.batch()
 * ```
 */
export class RelayLane {
  readonly database: Database
  readonly #settings: RelaySettings
  readonly #counters: RelayCounters
  /** Batches running now; beyond `parallelBatches` the next one waits for a slot. */
  #running = 0
  readonly #parallel: number
  readonly #waiting: Array<() => void> = []
  #stopped = false
  #loops: Array<Promise<void>> = []
  #listener: OutboxListener | undefined
  readonly #wakeTimers = new Set<() => void>()
  readonly #stopTimers = new Set<() => void>()
  #woken = false
  #notified = false
  #countedAt = 0
  #collectedAt = 0

  constructor(database: Database, settings: RelaySettings, counters: RelayCounters) {
    this.database = database
    this.#settings = settings
    this.#counters = counters
    this.#parallel = settings.parallelBatches ?? outboxStoreOf(database).defaultParallelBatches
  }

  /**
   * Runs `work` once fewer than `parallelBatches` batches of this database are running. Batches
   * side by side are safe as relays side by side are: each claims rows the others do not hold,
   * and a key's later message waits while an earlier one is held.
   */
  async inTurn<Result>(work: () => Promise<Result>): Promise<Result> {
    while (this.#running >= this.#parallel) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve))
    }
    this.#running++
    try {
      return await work()
    } finally {
      this.#running--
      this.#waiting.shift()?.()
    }
  }

  /** One batch, recorded in the counters. */
  batch(): Promise<BatchCounts> {
    return this.inTurn(async () => {
      const counts = await relayBatch(this.database, this.#settings)
      const counters = this.#counters
      counters.batches++
      counters.published += counts.published
      counters.failed += counts.failed
      counters.deadLettered += counts.deadLettered
      if (counts.lastLagMs !== undefined) counters.lastLagMs = counts.lastLagMs
      return counts
    })
  }

  /** Counts the pending messages (for the metrics). */
  async count(): Promise<void> {
    const store = outboxStoreOf(this.database)
    const counts = await withConnection(this.database, (connection) =>
      store.counts(connection, this.#settings.tables),
    )
    this.#countedAt = performance.now()
    this.#counters.pending.set(this.database.name, counts)
  }

  /** Starts the loop and, where the database notifies, the LISTEN. */
  start(collect: (database: Database) => Promise<void>): void {
    const settings = this.#settings
    if (settings.listen && this.database.dialect.outbox?.wakes === true) {
      this.#listener = new OutboxListener(
        this.database,
        settings.outbox.channel,
        () => {
          this.#counters.notifications++
          this.wake(true)
        },
        (listening) => {
          this.#counters.listening += listening ? 1 : -1
          if (listening) {
            this.#counters.listens++
            this.wake(false)
          }
        },
        settings.logger,
      )
      this.#listener.start()
    }
    this.#collectedAt = performance.now()
    // One loop per batch that may run at once: while batches come back full, they overlap (one
    // publishes while the next claims); idle, each polls.
    this.#loops = Array.from({ length: this.#parallel }, () => this.#run(collect))
  }

  /** Ends the wait before the next pass (`notified`: a commit's notification). */
  wake(notified: boolean): void {
    if (notified) this.#notified = true
    this.#woken = true
    for (const wakeUp of [...this.#wakeTimers]) wakeUp()
  }

  async #run(collect: (database: Database) => Promise<void>): Promise<void> {
    const { pollMin, pollMax, retryInitial, retryMax, gcInterval, logger } = this.#settings
    let idle = pollMin
    let failing = 0
    while (!this.#stopped) {
      const notified = this.#notified
      this.#notified = false
      this.#woken = false
      if (notified) this.#counters.notifiedPasses++
      let delay: number
      try {
        const counts = await this.batch()
        if (counts.claimed > 0) {
          logger.info?.({ database: this.database.name, ...counts }, 'txkit relay: batch done')
        }
        if (counts.published === 0 && counts.failed > 0) {
          // The broker is down (or every message fails): back off the whole loop.
          failing++
          delay = retryDelay(failing, retryInitial, retryMax)
        } else {
          failing = 0
          if (counts.claimed >= this.#settings.batchSize && counts.published > 0) delay = 0
          else if (counts.claimed > 0) delay = pollMin
          else delay = idle
          idle = counts.claimed > 0 ? pollMin : Math.min(pollMax, idle * 2)
        }
      } catch (error) {
        this.#counters.failedPasses++
        failing++
        delay = retryDelay(failing, retryInitial, retryMax)
        logger.error(
          { database: this.database.name, error: errorMessage(error) },
          'txkit relay: pass failed',
        )
      }
      if (performance.now() - this.#countedAt >= COUNT_EVERY_MS) {
        await this.count().catch(() => undefined)
      }
      if (gcInterval > 0 && performance.now() - this.#collectedAt >= gcInterval) {
        this.#collectedAt = performance.now()
        await collect(this.database).catch((error: unknown) =>
          logger.warn(
            { database: this.database.name, error: errorMessage(error) },
            'txkit relay: garbage collection failed',
          ),
        )
      }
      // While failing, a notification does not cut the backoff short (stop does).
      if (delay > 0 && !this.#stopped) await this.#sleep(delay, failing === 0)
    }
  }

  #sleep(ms: number, wakeable: boolean): Promise<void> {
    if (wakeable && this.#woken) return Promise.resolve()
    let done: () => void = () => undefined
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), ms)
      done = () => {
        clearTimeout(timer)
        resolve()
      }
      if (wakeable) this.#wakeTimers.add(done)
      this.#stopTimers.add(done)
    }).then(() => {
      this.#wakeTimers.delete(done)
      this.#stopTimers.delete(done)
    })
  }

  /** Lets the current batch finish, stops the loop and the LISTEN. */
  async stop(): Promise<void> {
    this.#stopped = true
    for (const stopNow of [...this.#stopTimers]) stopNow()
    await Promise.all(this.#loops)
    await this.#listener?.close()
  }
}
