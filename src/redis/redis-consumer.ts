import type { Redis } from 'ioredis'
import type { ReceivedMessage } from '../message/received-message.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { errorMessage } from '../util/error-message.js'
import { sleep } from '../util/sleep.js'
import { redisReceivedMessage } from './redis-received-message.js'

/** Options of {@link consumeRedis}. */
export interface RedisConsumerOptions {
  readonly stream: string
  /** The consumer group; created (from the stream's first entry, and the stream too) when missing. */
  readonly group: string
  /** This consumer's name in the group: stable across restarts of one process. */
  readonly consumer: string
  /**
   * Applies one message; the entry is acknowledged (`XACK`) only after this resolves (an inbox's
   * `inbox.handler(work)` is such a function). A rejection leaves it pending: it is claimed again
   * once idle for `claimIdleMs`.
   */
  readonly handle: (message: ReceivedMessage) => Promise<unknown>
  /** How long an unacknowledged entry (of any consumer of the group) waits before it is claimed. Default 30 s. */
  readonly claimIdleMs?: number
  /** Entries read at a time. Default 10. */
  readonly count?: number
  /** How long one read blocks waiting for new entries. Default 2000 ms. */
  readonly blockMs?: number
  /** Told of every failed `handle`, of entries without an id (acknowledged and skipped), of read errors. */
  readonly onError?: (error: unknown, message: ReceivedMessage | undefined) => void
}

/** A running consumer. */
export interface RedisConsumer {
  /** Stops reading, waits for the message being handled, closes the reading connection it opened. */
  stop(): Promise<void>
}

const OPTION_NAMES = new Set([
  'stream',
  'group',
  'consumer',
  'handle',
  'claimIdleMs',
  'count',
  'blockMs',
  'onError',
])

type Entry = [id: Buffer, fields: Buffer[] | null]

/**
 * Consumes a Redis stream in a consumer group, handing each entry to `handle` one at a time in
 * stream order, and acknowledges an entry only after `handle` resolved. An entry left pending (a
 * failed handle, a crash) is claimed with `XAUTOCLAIM` once idle for `claimIdleMs` and handed again
 * (same id). Blocking reads use a connection of its own (`redis.duplicate()`), closed by `stop()`.
 *
 * @example
 * ```ts
 * import { consumeRedis } from 'txkit/redis'
 *
 * const consumer = await consumeRedis(redis, {
 *   stream: 'order-events',
 *   group: 'billing',
 *   consumer: 'billing-1',
 *   handle: inbox.handler(work),
 * })
 * ```
 */
export async function consumeRedis(
  redis: Redis,
  options: RedisConsumerOptions,
): Promise<RedisConsumer> {
  checkOptionNames(options, OPTION_NAMES, 'consumeRedis()')
  try {
    await redis.xgroup('CREATE', options.stream, options.group, '0', 'MKSTREAM')
  } catch (error) {
    if (!/BUSYGROUP/.test(errorMessage(error))) throw error
  }
  const reader = redis.duplicate()
  reader.on('error', () => undefined)
  return new RunningRedisConsumer(redis, reader, options)
}

class RunningRedisConsumer implements RedisConsumer {
  readonly #redis: Redis
  readonly #reader: Redis
  readonly #options: RedisConsumerOptions
  readonly #stopping = new AbortController()
  readonly #done: Promise<void>
  #claimCursor = '0-0'

  constructor(redis: Redis, reader: Redis, options: RedisConsumerOptions) {
    this.#redis = redis
    this.#reader = reader
    this.#options = options
    this.#done = this.#run()
  }

  async stop(): Promise<void> {
    this.#stopping.abort()
    this.#reader.disconnect()
    await this.#done
  }

  async #run(): Promise<void> {
    const { stream, group, consumer } = this.#options
    const count = this.#options.count ?? 10
    while (!this.#stopping.signal.aborted) {
      try {
        const claimed = (await this.#redis.callBuffer(
          'XAUTOCLAIM',
          stream,
          group,
          consumer,
          this.#options.claimIdleMs ?? 30_000,
          this.#claimCursor,
          'COUNT',
          count,
        )) as [Buffer, Entry[], Buffer[]?]
        this.#claimCursor = claimed[0].toString('utf8')
        await this.#handleAll(claimed[1])
        if (this.#stopping.signal.aborted) break
        const read = (await this.#reader.callBuffer(
          'XREADGROUP',
          'GROUP',
          group,
          consumer,
          'COUNT',
          count,
          'BLOCK',
          this.#options.blockMs ?? 2000,
          'STREAMS',
          stream,
          '>',
        )) as [Buffer, Entry[]][] | null
        for (const [, entries] of read ?? []) await this.#handleAll(entries)
      } catch (error) {
        if (this.#stopping.signal.aborted) break
        this.#options.onError?.(error, undefined)
        await sleep(1000, this.#stopping.signal)
      }
    }
  }

  async #handleAll(entries: readonly Entry[]): Promise<void> {
    for (const [entryId, fields] of entries) {
      // A message being handled when stop() is called finishes; the rest stay pending.
      if (this.#stopping.signal.aborted) return
      const message = fields === null ? undefined : redisReceivedMessage(fields)
      if (message === undefined) {
        if (fields !== null) {
          this.#options.onError?.(new Error('A stream entry without an id field'), undefined)
        }
        await this.#redis.xack(this.#options.stream, this.#options.group, entryId)
        continue
      }
      try {
        await this.#options.handle(message)
      } catch (error) {
        this.#options.onError?.(error, message)
        continue
      }
      await this.#redis.xack(this.#options.stream, this.#options.group, entryId)
    }
  }
}
