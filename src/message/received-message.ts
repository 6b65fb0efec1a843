import { BYTES_CONTENT, JSON_CONTENT } from './outbox-message.js'

/**
 * A message as a consumer received it from a broker, whatever the broker: what the inbox needs to
 * apply it exactly once. Broker entry points (`txkit/amqplib`, `txkit/nats`, `txkit/redis`,
 * `txkit/bullmq`) make one from their client's delivery.
 */
export interface ReceivedMessage {
  /** The id the sender's outbox gave it: stable across every delivery. */
  readonly id: string
  /** The destination it was sent to, when the broker carried it. */
  readonly destination: string | undefined
  readonly key: string | null
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  readonly contentType: string
}

/**
 * A received message's payload: the JSON value it was sent as, or its bytes.
 *
 * @throws SyntaxError when a JSON message's body is not JSON (a foreign producer's).
 * @example
 * ```ts
 * const order = decodePayload(message) as { id: string }
 * ```
 */
export function decodePayload(message: Pick<ReceivedMessage, 'body' | 'contentType'>): unknown {
  if (message.contentType === BYTES_CONTENT) return message.body
  const text = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength)
  if (message.contentType === JSON_CONTENT || message.contentType.startsWith('application/json')) {
    return JSON.parse(text.toString('utf8'))
  }
  return message.body
}
