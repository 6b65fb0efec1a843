import type { JsMsg } from '@nats-io/jetstream'
import { DESTINATION_HEADER, KEY_HEADER, MESSAGE_ID_HEADER } from '../message/message-broker.js'
import type { ReceivedMessage } from '../message/received-message.js'
import { CONTENT_TYPE_HEADER } from './nats-broker.js'

const MSG_ID_HEADER = 'Nats-Msg-Id'
const OWN_HEADERS = new Set(
  [MESSAGE_ID_HEADER, DESTINATION_HEADER, KEY_HEADER, CONTENT_TYPE_HEADER, MSG_ID_HEADER].map(
    (name) => name.toLowerCase(),
  ),
)

/**
 * The {@link ReceivedMessage} of a JetStream message: the id from the `txkit-message-id` (or
 * `Nats-Msg-Id`) header, destination, key and content type from their headers, the other headers
 * as they came. `undefined` when the message carries no id (a foreign producer's).
 *
 * @example
 * ```ts
 * for await (const delivery of await consumer.consume()) {
 *   const message = natsReceivedMessage(delivery)
 * }
 * ```
 */
export function natsReceivedMessage(
  delivery: Pick<JsMsg, 'headers' | 'data'>,
): ReceivedMessage | undefined {
  const raw = delivery.headers
  const read = (name: string): string | undefined => {
    const value = raw?.get(name)
    return value === undefined || value === '' ? undefined : value
  }
  const id = read(MESSAGE_ID_HEADER) ?? read(MSG_ID_HEADER)
  if (id === undefined) return undefined
  const headers: Record<string, string> = {}
  for (const name of raw?.keys() ?? []) {
    if (!OWN_HEADERS.has(name.toLowerCase())) headers[name] = raw?.get(name) ?? ''
  }
  return {
    id,
    destination: read(DESTINATION_HEADER),
    key: read(KEY_HEADER) ?? null,
    headers,
    body: delivery.data,
    contentType: read(CONTENT_TYPE_HEADER) ?? 'application/octet-stream',
  }
}
