import type { OutboxMessage } from './outbox-message.js'

/** A committed message as the relay hands it to a broker. */
export interface RelayedMessage extends OutboxMessage {
  /** Where on the broker (the destination's `address`). */
  readonly address: string
  /** Tries before this one. */
  readonly attempts: number
}

/**
 * What became of one message: `published` (the broker confirmed it), `refused` (the broker will
 * never take this message: a missing queue, an unroutable key, too large; it is dead-lettered with
 * `reason` at once) or `failed` (try again later: the broker is down, a timeout).
 */
export type PublishOutcome =
  | { readonly status: 'published' }
  | { readonly status: 'refused'; readonly reason: string }
  | { readonly status: 'failed'; readonly error: unknown }

/**
 * A broker the relay publishes to. `txkit/amqplib`, `txkit/nats`, `txkit/redis` and
 * `txkit/bullmq` make one over the client you already use; anything implementing this works.
 */
export interface MessageBroker {
  /** For logs and metrics: `rabbitmq`, `nats`, `redis`, `bullmq`. */
  readonly kind: string
  /** The largest message (body, headers and id) the broker takes. */
  readonly maxMessageBytes: number
  /**
   * Called once as the relay starts, with the addresses of the destinations it publishes there:
   * checks what can be checked (the broker answers, an exchange or a stream exists).
   *
   * @throws BrokerSetupError when the broker or an address is wrong: the relay stops (exit 2).
   */
  start(addresses: readonly string[]): Promise<void>
  /**
   * Publishes `messages`, keeping their order (messages of one key must reach the broker in it),
   * and resolves one outcome per message in the same order. Does not reject for one message's
   * failure; a rejection counts as `failed` for every message.
   */
  publish(messages: readonly RelayedMessage[]): Promise<PublishOutcome[]>
  /** Closes what the broker object opened itself (never the client it was given). */
  close(): Promise<void>
}

/** The header names every broker carries a message's id, destination and key under. */
export const MESSAGE_ID_HEADER = 'txkit-message-id'
export const DESTINATION_HEADER = 'txkit-destination'
export const KEY_HEADER = 'txkit-key'
