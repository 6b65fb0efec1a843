import type { Message } from 'amqplib'
import { DESTINATION_HEADER, KEY_HEADER, MESSAGE_ID_HEADER } from '../message/message-broker.js'
import type { ReceivedMessage } from '../message/received-message.js'

/**
 * The {@link ReceivedMessage} of an amqplib delivery: the id from `messageId` (or the
 * `txkit-message-id` header), destination and key from the txkit headers, the other headers as
 * strings. `undefined` when the message carries no id (a foreign producer's).
 *
 * @example
 * ```ts
 * await channel.consume('orders', (delivery) => {
 *   const message = delivery && amqpReceivedMessage(delivery)
 * })
 * ```
 */
export function amqpReceivedMessage(delivery: Message): ReceivedMessage | undefined {
  const raw = (delivery.properties.headers ?? {}) as Record<string, unknown>
  const id = delivery.properties.messageId ?? raw[MESSAGE_ID_HEADER]
  if (typeof id !== 'string' || id === '') return undefined
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(raw)) {
    if (name === MESSAGE_ID_HEADER || name === DESTINATION_HEADER || name === KEY_HEADER) continue
    if (value === undefined || value === null) continue
    headers[name] =
      typeof value === 'string'
        ? value
        : Buffer.isBuffer(value)
          ? value.toString('utf8')
          : JSON.stringify(value)
  }
  const destination = raw[DESTINATION_HEADER]
  const key = raw[KEY_HEADER]
  return {
    id,
    destination: typeof destination === 'string' ? destination : undefined,
    key: typeof key === 'string' ? key : null,
    headers,
    body: delivery.content,
    contentType:
      typeof delivery.properties.contentType === 'string'
        ? delivery.properties.contentType
        : 'application/octet-stream',
  }
}
