import { type ConsumerMessages, type JsMsg, jetstream } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import type { ReceivedMessage } from '../message/received-message.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { natsReceivedMessage } from './nats-received-message.js'

/** Options of {@link consumeNats}. */
export interface NatsConsumerOptions {
  /** The stream… */
  readonly stream: string
  /** …and its durable pull consumer (both must exist; give the consumer explicit acks). */
  readonly consumer: string
  /**
   * Applies one message; it is acked (and the ack confirmed) only after this resolves (an inbox's
   * `inbox.handler(work)` is such a function). A rejection naks it with `nakDelayMs`.
   */
  readonly handle: (message: ReceivedMessage) => Promise<unknown>
  /** How long JetStream waits before redelivering a failed message. Default 1000 ms. */
  readonly nakDelayMs?: number
  /** Messages pulled ahead. Default 100. */
  readonly maxMessages?: number
  /** Told of every failed `handle` and of messages without an id (terminated: never redelivered). */
  readonly onError?: (error: unknown, message: ReceivedMessage | undefined) => void
}

/** A running consumer. */
export interface NatsConsumer {
  /** Stops pulling, waits for the message being handled. The connection stays open. */
  stop(): Promise<void>
}

const OPTION_NAMES = new Set([
  'stream',
  'consumer',
  'handle',
  'nakDelayMs',
  'maxMessages',
  'onError',
])

/**
 * Consumes a durable JetStream consumer, handing each message to `handle` one at a time in stream
 * order, and acks a message only after `handle` resolved: a crash or `stop()` before that leaves it
 * unacked, and JetStream redelivers it after the consumer's `ack_wait` (with the same id).
 *
 * @example
 * ```ts
 * import { consumeNats } from 'txkit/nats'
 *
 * const consumer = await consumeNats(connection, {
 *   stream: 'ORDERS',
 *   consumer: 'billing',
 *   handle: inbox.handler(work),
 * })
 * ```
 */
export async function consumeNats(
  connection: NatsConnection,
  options: NatsConsumerOptions,
): Promise<NatsConsumer> {
  checkOptionNames(options, OPTION_NAMES, 'consumeNats()')
  const consumer = await jetstream(connection).consumers.get(options.stream, options.consumer)
  const messages = await consumer.consume({ max_messages: options.maxMessages ?? 100 })
  return new RunningNatsConsumer(messages, options)
}

class RunningNatsConsumer implements NatsConsumer {
  readonly #messages: ConsumerMessages
  readonly #options: NatsConsumerOptions
  readonly #done: Promise<void>
  #stopped = false

  constructor(messages: ConsumerMessages, options: NatsConsumerOptions) {
    this.#messages = messages
    this.#options = options
    this.#done = this.#run()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    this.#messages.stop()
    await this.#done
  }

  async #run(): Promise<void> {
    try {
      for await (const delivery of this.#messages) {
        if (this.#stopped) break
        await this.#handle(delivery)
      }
    } catch (error) {
      this.#options.onError?.(error, undefined)
    }
  }

  async #handle(delivery: JsMsg): Promise<void> {
    const message = natsReceivedMessage(delivery)
    if (message === undefined) {
      this.#options.onError?.(
        new Error('A message without an id (no txkit-message-id header)'),
        undefined,
      )
      delivery.term('no message id')
      return
    }
    try {
      await this.#options.handle(message)
    } catch (error) {
      this.#options.onError?.(error, message)
      delivery.nak(this.#options.nakDelayMs ?? 1000)
      return
    }
    try {
      await delivery.ackAck()
    } catch (error) {
      // The ack may not have reached the server: JetStream redelivers, the inbox answers duplicate.
      this.#options.onError?.(error, message)
    }
  }
}
