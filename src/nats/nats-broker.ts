import {
  JetStreamApiError,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream'
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node'
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

/** Options of {@link natsBroker}. */
export interface NatsBrokerOptions {
  /** The largest message to publish. Default: the server's `max_payload` (1 MiB when unknown). */
  readonly maxMessageBytes?: number
  /** How long to wait for one message's JetStream acknowledgement. Default 10 s. */
  readonly timeoutMs?: number
}

/** The header a NATS message carries its content type under. */
export const CONTENT_TYPE_HEADER = 'content-type'

const OPTION_NAMES = new Set(['maxMessageBytes', 'timeoutMs'])

/**
 * A {@link MessageBroker} publishing to NATS JetStream over your connection: the destination's
 * `address` is the subject, a stream must capture it. Each message is published with its id as
 * `Nats-Msg-Id`, so the stream's duplicate window drops a republished message; its key, destination
 * and content type travel as headers. The connection is yours: `close()` leaves it open.
 *
 * @example
 * ```ts
 * import { connect } from '@nats-io/transport-node'
 * import { natsBroker } from 'txkit/nats'
 *
 * const broker = natsBroker(await connect({ servers: 'localhost:4222' }))
 * ```
 */
export function natsBroker(
  connection: NatsConnection,
  options: NatsBrokerOptions = {},
): MessageBroker {
  checkOptionNames(options, OPTION_NAMES, 'natsBroker()')
  return new NatsBroker(connection, options)
}

class NatsBroker implements MessageBroker {
  readonly kind = 'nats'
  readonly #connection: NatsConnection
  readonly #options: NatsBrokerOptions
  readonly #js: JetStreamClient

  constructor(connection: NatsConnection, options: NatsBrokerOptions) {
    this.#connection = connection
    this.#options = options
    this.#js = jetstream(connection)
  }

  get maxMessageBytes(): number {
    return this.#options.maxMessageBytes ?? this.#connection.info?.max_payload ?? 1024 * 1024
  }

  async start(addresses: readonly string[]): Promise<void> {
    let manager: Awaited<ReturnType<typeof jetstreamManager>>
    try {
      manager = await jetstreamManager(this.#connection, {
        timeout: this.#options.timeoutMs ?? 10_000,
      })
    } catch (error) {
      throw new BrokerSetupError(
        `NATS JetStream does not answer (${errorMessage(error)}): start the server with JetStream enabled (nats-server -js) and check the connection you gave natsBroker().`,
        { cause: error },
      )
    }
    for (const subject of new Set(addresses)) {
      try {
        await manager.streams.find(subject)
      } catch (error) {
        throw new BrokerSetupError(
          `No JetStream stream captures subject "${subject}" (${errorMessage(error)}): add a stream with this subject (nats stream add --subjects "${subject}") or fix the destination's address.`,
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
    // Nothing of its own: the connection is the caller's.
  }

  async #publishOne(message: RelayedMessage): Promise<PublishOutcome> {
    const size = messageSize(message)
    if (size > this.maxMessageBytes) {
      return {
        status: 'refused',
        reason: `message of ${size} bytes is larger than the broker's limit of ${this.maxMessageBytes} bytes`,
      }
    }
    const headers = natsHeaders()
    for (const [name, value] of Object.entries(message.headers)) headers.set(name, value)
    headers.set(MESSAGE_ID_HEADER, message.id)
    headers.set(DESTINATION_HEADER, message.destination)
    headers.set(CONTENT_TYPE_HEADER, message.contentType)
    if (message.key !== null) headers.set(KEY_HEADER, message.key)
    try {
      await this.#js.publish(message.address, message.body, {
        msgID: message.id,
        headers,
        timeout: this.#options.timeoutMs ?? 10_000,
      })
      return { status: 'published' }
    } catch (error) {
      const refused = refusal(error, message.address)
      return refused === undefined
        ? { status: 'failed', error }
        : { status: 'refused', reason: refused }
    }
  }
}

/** Why JetStream will never take this message, or undefined when a later try may succeed. */
function refusal(error: unknown, subject: string): string | undefined {
  if (!(error instanceof Error)) return undefined
  if (error.name === 'JetStreamNotEnabled') {
    return `no JetStream stream captures subject "${subject}" (no responders)`
  }
  // Thrown by the client before sending: a subject it cannot publish to, more than max_payload.
  if (error.name === 'InvalidSubjectError' || error.name === 'InvalidArgumentError') {
    return `NATS cannot publish this message: ${error.message}`
  }
  if (error instanceof JetStreamApiError) {
    // 503: JetStream is temporarily unavailable (a leader election): try again.
    if (error.status === 503) return undefined
    return `JetStream refused the message: ${error.message}`
  }
  return undefined
}
