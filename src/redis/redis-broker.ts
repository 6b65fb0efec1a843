import type { Redis } from 'ioredis'
import { BrokerSetupError } from '../errors/broker-setup-error.js'
import type { MessageBroker, PublishOutcome, RelayedMessage } from '../message/message-broker.js'
import { messageSize } from '../message/outbox-message.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { errorMessage } from '../util/error-message.js'
import { STREAM_FIELDS } from './redis-stream-fields.js'

/** Options of {@link redisBroker}. */
export interface RedisBrokerOptions {
  /** The largest message to publish; larger ones are refused. Default 16 MiB. */
  readonly maxMessageBytes?: number
  /** Trims each stream to about this many entries (`XADD … MAXLEN ~ n`). Default: no trimming. */
  readonly maxLen?: number
  /** How long a published id is remembered, so that publishing it again adds nothing. Default 1 day. */
  readonly dedupTtlSeconds?: number
  /** How long to wait for Redis to answer one batch. Default 10 s. */
  readonly timeoutMs?: number
}

const OPTION_NAMES = new Set(['maxMessageBytes', 'maxLen', 'dedupTtlSeconds', 'timeoutMs'])

/**
 * Adds the entry unless the message's marker exists, then sets the marker: atomically, and an
 * XADD that fails leaves no marker. KEYS: marker, stream. ARGV: ttl, maxlen or '', field/value pairs.
 */
const PUBLISH_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local command = {'XADD', KEYS[2]}
if ARGV[2] ~= '' then
  table.insert(command, 'MAXLEN')
  table.insert(command, '~')
  table.insert(command, ARGV[2])
end
table.insert(command, '*')
for i = 3, #ARGV do table.insert(command, ARGV[i]) end
local entry = redis.call(unpack(command))
redis.call('SET', KEYS[1], entry, 'EX', ARGV[1])
return 1
`

/**
 * The key remembering that message `id` was added to `stream` (same hash slot as the stream).
 *
 * @example
 * ```ts
 * publishedMarkerKey('order-events', 'm-1') // 'txkit-published:{order-events}:m-1'
 * ```
 */
export function publishedMarkerKey(stream: string, id: string): string {
  return `txkit-published:{${stream}}:${id}`
}

/**
 * A {@link MessageBroker} appending to Redis streams over your ioredis client: the destination's
 * `address` is the stream key, each message one entry with the fields `id`, `destination`, `key`,
 * `content-type`, `headers` (JSON) and `body`. Publishing an id again within `dedupTtlSeconds` adds
 * no second entry. The client is yours: `close()` leaves it open.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { redisBroker } from 'txkit/redis'
 *
 * const broker = redisBroker(new Redis(), { maxLen: 1_000_000 })
 * ```
 */
export function redisBroker(redis: Redis, options: RedisBrokerOptions = {}): MessageBroker {
  checkOptionNames(options, OPTION_NAMES, 'redisBroker()')
  return new RedisBroker(redis, options)
}

class RedisBroker implements MessageBroker {
  readonly kind = 'redis'
  readonly maxMessageBytes: number
  readonly #redis: Redis
  readonly #options: RedisBrokerOptions

  constructor(redis: Redis, options: RedisBrokerOptions) {
    this.#redis = redis
    this.#options = options
    this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024
  }

  async start(addresses: readonly string[]): Promise<void> {
    try {
      await this.#withTimeout(this.#redis.ping())
    } catch (error) {
      throw new BrokerSetupError(
        `Redis does not answer (${errorMessage(error)}): check the client you gave redisBroker().`,
        { cause: error },
      )
    }
    for (const stream of new Set(addresses)) {
      const type = await this.#redis.type(stream)
      if (type !== 'none' && type !== 'stream') {
        throw new BrokerSetupError(
          `Redis key "${stream}" is a ${type}, not a stream: fix the destination's address or remove the key.`,
        )
      }
    }
  }

  async publish(messages: readonly RelayedMessage[]): Promise<PublishOutcome[]> {
    // One client sends the scripts in order; they run in that order.
    const sent = messages.map((message) => this.#publishOne(message))
    let outcomes: PublishOutcome[]
    try {
      outcomes = await this.#withTimeout(Promise.all(sent))
    } catch (error) {
      return messages.map(() => ({ status: 'failed', error }))
    }
    return outcomes
  }

  async close(): Promise<void> {
    // Nothing of its own: the client is the caller's.
  }

  async #publishOne(message: RelayedMessage): Promise<PublishOutcome> {
    const size = messageSize(message)
    if (size > this.maxMessageBytes) {
      return {
        status: 'refused',
        reason: `message of ${size} bytes is larger than the broker's limit of ${this.maxMessageBytes} bytes`,
      }
    }
    const fields: (string | Buffer)[] = [
      STREAM_FIELDS.id,
      message.id,
      STREAM_FIELDS.destination,
      message.destination,
      STREAM_FIELDS.contentType,
      message.contentType,
      STREAM_FIELDS.headers,
      JSON.stringify(message.headers),
      STREAM_FIELDS.body,
      Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength),
    ]
    if (message.key !== null) fields.push(STREAM_FIELDS.key, message.key)
    try {
      await this.#redis.eval(
        PUBLISH_SCRIPT,
        2,
        publishedMarkerKey(message.address, message.id),
        message.address,
        this.#options.dedupTtlSeconds ?? 86_400,
        this.#options.maxLen === undefined ? '' : String(this.#options.maxLen),
        ...fields,
      )
      return { status: 'published' }
    } catch (error) {
      if (/WRONGTYPE/.test(errorMessage(error))) {
        return { status: 'refused', reason: `Redis key "${message.address}" is not a stream` }
      }
      return { status: 'failed', error }
    }
  }

  #withTimeout<Value>(work: Promise<Value>): Promise<Value> {
    const ms = this.#options.timeoutMs ?? 10_000
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms)
    })
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
  }
}
