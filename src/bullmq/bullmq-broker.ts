import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq'
import { BrokerSetupError } from '../errors/broker-setup-error.js'
import type { MessageBroker, PublishOutcome, RelayedMessage } from '../message/message-broker.js'
import { messageSize } from '../message/outbox-message.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { errorMessage } from '../util/error-message.js'
import { jobData } from './bullmq-job-data.js'

/** Options of {@link bullmqBroker}. */
export interface BullmqBrokerOptions {
  /** Your ioredis client (shared: BullMQ does not close it) or connection options. */
  readonly connection: ConnectionOptions
  /** BullMQ's key prefix. Default BullMQ's (`bull`). */
  readonly prefix?: string
  /**
   * Options of every job (attempts, backoff, removeOnComplete…); the job id is the message id.
   * Deduplication holds while the job is kept: prefer `removeOnComplete: { age }` to `true`.
   */
  readonly jobOptions?: Omit<JobsOptions, 'jobId'>
  /** The largest message to publish; larger ones are refused. Default 16 MiB. */
  readonly maxMessageBytes?: number
  /** How long to wait for Redis to take one job. Default 10 s. */
  readonly timeoutMs?: number
}

const OPTION_NAMES = new Set(['connection', 'prefix', 'jobOptions', 'maxMessageBytes', 'timeoutMs'])

/**
 * A {@link MessageBroker} adding BullMQ jobs: the destination's `address` is the queue, the job's
 * name the destination, its id the message id (so BullMQ adds a republished message once) and its
 * data a {@link TxkitJobData}. `close()` closes the queues it opened, not your connection.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis'
 * import { bullmqBroker } from 'txkit/bullmq'
 *
 * const broker = bullmqBroker({ connection: new Redis(), jobOptions: { attempts: 5 } })
 * ```
 */
export function bullmqBroker(options: BullmqBrokerOptions): MessageBroker {
  checkOptionNames(options, OPTION_NAMES, 'bullmqBroker()')
  return new BullmqBroker(options)
}

class BullmqBroker implements MessageBroker {
  readonly kind = 'bullmq'
  readonly maxMessageBytes: number
  readonly #options: BullmqBrokerOptions
  readonly #queues = new Map<string, Queue>()

  constructor(options: BullmqBrokerOptions) {
    this.#options = options
    this.maxMessageBytes = options.maxMessageBytes ?? 16 * 1024 * 1024
  }

  async start(addresses: readonly string[]): Promise<void> {
    for (const address of new Set(addresses)) {
      try {
        const queue = this.#queue(address)
        await this.#withTimeout(queue.waitUntilReady())
        await this.#withTimeout(queue.count())
      } catch (error) {
        throw new BrokerSetupError(
          `BullMQ queue "${address}" is not reachable (${errorMessage(error)}): check the connection you gave bullmqBroker().`,
          { cause: error },
        )
      }
    }
  }

  async publish(messages: readonly RelayedMessage[]): Promise<PublishOutcome[]> {
    const outcomes: PublishOutcome[] = []
    let down: unknown
    for (const message of messages) {
      if (down !== undefined) {
        outcomes.push({ status: 'failed', error: down })
        continue
      }
      const outcome = await this.#publishOne(message)
      if (outcome.status === 'failed') down = outcome.error
      outcomes.push(outcome)
    }
    return outcomes
  }

  async close(): Promise<void> {
    const queues = [...this.#queues.values()]
    this.#queues.clear()
    await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)))
  }

  async #publishOne(message: RelayedMessage): Promise<PublishOutcome> {
    const size = messageSize(message)
    if (size > this.maxMessageBytes) {
      return {
        status: 'refused',
        reason: `message of ${size} bytes is larger than the broker's limit of ${this.maxMessageBytes} bytes`,
      }
    }
    if (`${Number.parseInt(message.id, 10)}` === message.id) {
      return { status: 'refused', reason: `BullMQ takes no integer job id such as "${message.id}"` }
    }
    try {
      await this.#withTimeout(
        this.#queue(message.address).add(message.destination, jobData(message), {
          ...this.#options.jobOptions,
          jobId: message.id,
        }),
      )
      return { status: 'published' }
    } catch (error) {
      return { status: 'failed', error }
    }
  }

  #queue(address: string): Queue {
    let queue = this.#queues.get(address)
    if (queue === undefined) {
      const options = { connection: this.#options.connection }
      queue = new Queue(
        address,
        this.#options.prefix === undefined ? options : { ...options, prefix: this.#options.prefix },
      )
      queue.on('error', () => undefined)
      this.#queues.set(address, queue)
    }
    return queue
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
