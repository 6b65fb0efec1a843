import type { ChannelModel, ConfirmChannel, Message, Options } from 'amqplib'
import { BrokerSetupError } from '../errors/broker-setup-error.js'
import {
  DESTINATION_HEADER,
  KEY_HEADER,
  MESSAGE_ID_HEADER,
  type MessageBroker,
  type PublishOutcome,
  type RelayedMessage,
} from '../message/message-broker.js'
import { messageSize } from '../message/outbox-message.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { errorMessage } from '../util/error-message.js'

/** The connection an AMQP broker publishes over: `amqplib.connect(…)`, with or without recovery. */
export type AmqpConnection = Pick<ChannelModel, 'createChannel' | 'createConfirmChannel'>

/** Options of {@link amqpBroker}. */
export interface AmqpBrokerOptions {
  /** The largest message (body, headers and id) to publish; larger ones are refused. Default 16 MiB. */
  readonly maxMessageBytes?: number
  /** The routing key of a message. Default: its key, or `''` for a message without one. */
  readonly routingKey?: (message: RelayedMessage) => string
  /** How long to wait for the channel and the publisher confirms of one batch. Default 30 s. */
  readonly confirmTimeoutMs?: number
}

const OPTION_NAMES = new Set(['maxMessageBytes', 'routingKey', 'confirmTimeoutMs'])
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024

/**
 * A {@link MessageBroker} publishing to RabbitMQ exchanges over your amqplib connection: the
 * destination's `address` is the exchange, the routing key the message's key. Messages are
 * persistent and mandatory, and each batch waits for the publisher confirms: an unroutable message
 * comes back as `refused`, a nack or a lost channel as `failed`. The connection is yours: `close()`
 * closes only the confirm channel the broker opened.
 *
 * @example
 * ```ts
 * import amqp from 'amqplib'
 * import { amqpBroker } from 'txkit/amqplib'
 *
 * const connection = await amqp.connect('amqp://localhost', { recovery: true })
 * const broker = amqpBroker(connection, { routingKey: (m) => m.destination })
 * ```
 */
export function amqpBroker(
  connection: AmqpConnection,
  options: AmqpBrokerOptions = {},
): MessageBroker {
  checkOptionNames(options, OPTION_NAMES, 'amqpBroker()')
  return new AmqpBroker(connection, options)
}

class AmqpBroker implements MessageBroker {
  readonly kind = 'rabbitmq'
  readonly maxMessageBytes: number
  readonly #connection: AmqpConnection
  readonly #routingKey: (message: RelayedMessage) => string
  readonly #timeoutMs: number
  #channel: Promise<ConfirmChannel> | undefined
  /** Exchanges seen to exist since the confirm channel opened. */
  readonly #exchanges = new Set<string>()

  constructor(connection: AmqpConnection, options: AmqpBrokerOptions) {
    this.#connection = connection
    this.maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.#routingKey = options.routingKey ?? ((message) => message.key ?? '')
    this.#timeoutMs = options.confirmTimeoutMs ?? 30_000
  }

  async start(addresses: readonly string[]): Promise<void> {
    let missing: Map<string, string>
    try {
      missing = await this.#missingExchanges(addresses)
    } catch (error) {
      throw new BrokerSetupError(
        `RabbitMQ does not answer (${errorMessage(error)}): check the connection you gave amqpBroker().`,
        { cause: error },
      )
    }
    if (missing.size > 0) {
      throw new BrokerSetupError(
        `${[...missing.values()].join('; ')}: declare the exchange (assertExchange or the management UI) or fix the destination's address.`,
      )
    }
  }

  async publish(messages: readonly RelayedMessage[]): Promise<PublishOutcome[]> {
    const outcomes: (PublishOutcome | undefined)[] = messages.map(() => undefined)
    let channel: ConfirmChannel
    let missing: Map<string, string>
    try {
      channel = await this.#withTimeout(this.#confirmChannel(), 'a confirm channel')
      missing = await this.#withTimeout(
        this.#missingExchanges(messages.map((message) => message.address)),
        'the exchange check',
      )
    } catch (error) {
      return messages.map(() => ({ status: 'failed', error }))
    }
    const returned = new Map<string, string>()
    const onReturn = (message: Message) => {
      const fields = message.fields as Message['fields'] & { replyText?: string }
      const id = message.properties.messageId
      if (typeof id === 'string') {
        returned.set(
          id,
          `unroutable: no queue is bound to exchange "${fields.exchange}" for routing key "${fields.routingKey}"${fields.replyText ? ` (${fields.replyText})` : ''}`,
        )
      }
    }
    let closed: unknown
    const onClose = (error?: unknown) => {
      closed ??= error ?? new Error('The RabbitMQ channel closed')
    }
    channel.on('return', onReturn)
    channel.on('close', onClose)
    channel.on('error', onClose)
    const confirms: Promise<void>[] = []
    messages.forEach((message, index) => {
      const size = messageSize(message)
      const absent = missing.get(message.address)
      if (size > this.maxMessageBytes) {
        outcomes[index] = {
          status: 'refused',
          reason: `message of ${size} bytes is larger than the broker's limit of ${this.maxMessageBytes} bytes`,
        }
      } else if (absent !== undefined) {
        outcomes[index] = { status: 'refused', reason: absent }
      } else if (closed !== undefined) {
        outcomes[index] = { status: 'failed', error: closed }
      } else {
        confirms.push(
          this.#publishOne(channel, message, returned, (outcome) => (outcomes[index] = outcome)),
        )
      }
    })
    let timedOut = false
    try {
      await this.#withTimeout(Promise.all(confirms), 'the publisher confirms')
    } catch {
      timedOut = true
    } finally {
      channel.off('return', onReturn)
      channel.off('close', onClose)
      channel.off('error', onClose)
    }
    if (timedOut) this.#discardChannel()
    const timeout = new Error(`RabbitMQ did not confirm within ${this.#timeoutMs} ms`)
    return outcomes.map((outcome) => outcome ?? { status: 'failed', error: closed ?? timeout })
  }

  async close(): Promise<void> {
    const channel = this.#channel
    this.#channel = undefined
    if (channel === undefined) return
    try {
      await (await channel).close()
    } catch {
      // Already closed with its connection.
    }
  }

  #publishOne(
    channel: ConfirmChannel,
    message: RelayedMessage,
    returned: ReadonlyMap<string, string>,
    settle: (outcome: PublishOutcome) => void,
  ): Promise<void> {
    const headers: Record<string, string> = {
      ...message.headers,
      [MESSAGE_ID_HEADER]: message.id,
      [DESTINATION_HEADER]: message.destination,
    }
    if (message.key !== null) headers[KEY_HEADER] = message.key
    const properties: Options.Publish = {
      persistent: true,
      mandatory: true,
      messageId: message.id,
      contentType: message.contentType,
      headers,
    }
    const body = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength)
    return new Promise((resolve) => {
      try {
        channel.publish(message.address, this.#routingKey(message), body, properties, (error) => {
          const reason = returned.get(message.id)
          if (error) settle({ status: 'failed', error })
          else if (reason !== undefined) settle({ status: 'refused', reason })
          else settle({ status: 'published' })
          resolve()
        })
      } catch (error) {
        settle({ status: 'failed', error })
        resolve()
      }
    })
  }

  #confirmChannel(): Promise<ConfirmChannel> {
    if (this.#channel !== undefined) return this.#channel
    const opening = this.#connection.createConfirmChannel().then((channel) => {
      const forget = () => {
        if (this.#channel === opening) this.#discardChannel()
      }
      channel.on('error', forget)
      channel.on('close', forget)
      return channel
    })
    this.#channel = opening
    opening.catch(() => {
      if (this.#channel === opening) this.#channel = undefined
    })
    return opening
  }

  /** Forgets the confirm channel (the next batch opens a new one) and closes it if it opens late. */
  #discardChannel(): void {
    const channel = this.#channel
    this.#channel = undefined
    this.#exchanges.clear()
    channel?.then((open) => open.close()).catch(() => undefined)
  }

  /** The exchanges among `addresses` that do not exist, each with the reason, on a throwaway channel. */
  async #missingExchanges(addresses: readonly string[]): Promise<Map<string, string>> {
    const missing = new Map<string, string>()
    for (const address of new Set(addresses)) {
      if (this.#exchanges.has(address)) continue
      const channel = await this.#connection.createChannel()
      channel.on('error', () => undefined)
      try {
        await channel.checkExchange(address)
        this.#exchanges.add(address)
        await channel.close()
      } catch (error) {
        if ((error as { code?: unknown }).code !== 404) throw error
        missing.set(address, `RabbitMQ has no exchange "${address}"`)
      }
    }
    return missing
  }

  #withTimeout<Value>(work: Promise<Value>, what: string): Promise<Value> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`RabbitMQ did not answer with ${what} within ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      )
    })
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
  }
}
