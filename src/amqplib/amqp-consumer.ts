import type { Channel, ConsumeMessage } from 'amqplib'
import type { ReceivedMessage } from '../message/received-message.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { sleep } from '../util/sleep.js'
import type { AmqpConnection } from './amqp-broker.js'
import { amqpReceivedMessage } from './amqp-received-message.js'

/** Options of {@link consumeAmqp}. */
export interface AmqpConsumerOptions {
  /** The queue to consume (it must exist). */
  readonly queue: string
  /**
   * Applies one message; the delivery is acked only after it resolves (an inbox's
   * `inbox.handler(work)` is such a function). A rejection requeues the message after `retryDelayMs`.
   */
  readonly handle: (message: ReceivedMessage) => Promise<unknown>
  /** Deliveries the broker sends ahead of the acks. Default 10. */
  readonly prefetch?: number
  /** How long a failed message waits before it is requeued. Default 1000 ms. */
  readonly retryDelayMs?: number
  /**
   * Deliveries after which a failing message is rejected without requeue (to the queue's
   * dead-letter exchange, if any). Counted by the `x-delivery-count` header of quorum queues, else
   * by this consumer. Default: unlimited.
   */
  readonly maxDeliveries?: number
  /** Told of every failed `handle` and of messages without an id (rejected without requeue). */
  readonly onError?: (error: unknown, message: ReceivedMessage | undefined) => void
}

/** A running consumer. */
export interface AmqpConsumer {
  /** Stops taking deliveries, waits for the message being handled, closes the consumer's channel. */
  stop(): Promise<void>
}

const OPTION_NAMES = new Set([
  'queue',
  'handle',
  'prefetch',
  'retryDelayMs',
  'maxDeliveries',
  'onError',
])

/**
 * Consumes `queue` on a channel of its own, handing each delivery to `handle` one at a time in the
 * order they arrive, and acks a delivery only after `handle` resolved: a crash or `stop()` before
 * that leaves it unacked, and RabbitMQ delivers it again (with the same id).
 *
 * @example
 * ```ts
 * import { consumeAmqp } from 'txkit/amqplib'
 *
 * const consumer = await consumeAmqp(connection, { queue: 'billing', handle: inbox.handler(work) })
 * // …
 * await consumer.stop()
 * ```
 */
export async function consumeAmqp(
  connection: AmqpConnection,
  options: AmqpConsumerOptions,
): Promise<AmqpConsumer> {
  checkOptionNames(options, OPTION_NAMES, 'consumeAmqp()')
  const channel = await connection.createChannel()
  channel.on('error', () => undefined)
  await channel.prefetch(options.prefetch ?? 10)
  const consumer = new RunningAmqpConsumer(channel, options)
  const { consumerTag } = await channel.consume(options.queue, (delivery) =>
    consumer.receive(delivery),
  )
  consumer.tag = consumerTag
  return consumer
}

class RunningAmqpConsumer implements AmqpConsumer {
  tag: string | undefined
  readonly #channel: Channel
  readonly #options: AmqpConsumerOptions
  readonly #failures = new Map<string, number>()
  readonly #stopping = new AbortController()
  #chain: Promise<void> = Promise.resolve()

  constructor(channel: Channel, options: AmqpConsumerOptions) {
    this.#channel = channel
    this.#options = options
  }

  receive(delivery: ConsumeMessage | null): void {
    if (delivery === null) return
    this.#chain = this.#chain.then(() => this.#handle(delivery))
  }

  async stop(): Promise<void> {
    const tag = this.tag
    this.tag = undefined
    if (tag !== undefined) await this.#channel.cancel(tag).catch(() => undefined)
    this.#stopping.abort()
    await this.#chain
    await this.#channel.close().catch(() => undefined)
  }

  async #handle(delivery: ConsumeMessage): Promise<void> {
    if (this.#stopping.signal.aborted) return
    const message = amqpReceivedMessage(delivery)
    if (message === undefined) {
      this.#options.onError?.(
        new Error('A message without an id (no messageId property)'),
        undefined,
      )
      this.#settle(() => this.#channel.reject(delivery, false))
      return
    }
    try {
      await this.#options.handle(message)
    } catch (error) {
      this.#options.onError?.(error, message)
      const counted = delivery.properties.headers?.['x-delivery-count']
      const failures = (this.#failures.get(message.id) ?? 0) + 1
      this.#failures.set(message.id, failures)
      const deliveries = typeof counted === 'number' ? counted + 1 : failures
      if (deliveries >= (this.#options.maxDeliveries ?? Number.POSITIVE_INFINITY)) {
        this.#failures.delete(message.id)
        this.#settle(() => this.#channel.reject(delivery, false))
        return
      }
      await sleep(this.#options.retryDelayMs ?? 1000, this.#stopping.signal)
      if (!this.#stopping.signal.aborted)
        this.#settle(() => this.#channel.nack(delivery, false, true))
      return
    }
    this.#failures.delete(message.id)
    // Stopped while handling: the ack still goes out, the message was applied.
    this.#settle(() => this.#channel.ack(delivery))
  }

  /** Acks or nacks; a closed channel already gave the delivery back to the broker. */
  #settle(settle: () => void): void {
    try {
      settle()
    } catch {
      // The channel closed: the broker redelivers the message.
    }
  }
}
