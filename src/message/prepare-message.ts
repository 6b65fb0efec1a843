import { ConfigurationError } from '../errors/configuration-error.js'
import { MessageRefusedError } from '../errors/message-refused-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import {
  checkHeaders,
  checkMessageId,
  checkMessageKey,
  encodePayload,
  messageSize,
  newMessageId,
  type OutboxMessage,
  type SendOptions,
} from './outbox-message.js'
import type { OutboxDefinition } from './outbox-options.js'

const SEND_OPTIONS = new Set(['id', 'key', 'headers'])

/**
 * Checks and encodes one message of `outbox.send(…)`: everything that can be refused is refused
 * here, at the send, inside the transaction, never left for the relay to trip on.
 *
 * @throws MessageRefusedError for a bad payload, destination, size, id (or one in `taken`), key or headers.
 * @throws ConfigurationError when there is no outbox (`definition` undefined) or an unknown option.
 * @example
 * ```ts
 * const message = prepareMessage(outbox, 'order-events', { id: 7 }, { key: '7' }, new Set())
 * ```
 */
export function prepareMessage(
  definition: OutboxDefinition | undefined,
  destination: string,
  payload: unknown,
  options: SendOptions,
  taken: ReadonlySet<string>,
): OutboxMessage {
  if (definition === undefined) {
    throw new ConfigurationError(
      'This transaction has no outbox: give its coordinator or manager one, `outbox: { destinations: { name: { broker: … } } }`.',
    )
  }
  checkOptionNames(options, SEND_OPTIONS, 'outbox.send()')
  const target = definition.destination(destination)
  const id = options.id === undefined ? newMessageId() : checkMessageId(options.id)
  if (taken.has(id)) {
    throw new MessageRefusedError(
      'duplicate-id',
      `Message id "${id}" was already sent in this transaction: each message needs an id of its own.`,
    )
  }
  const message: OutboxMessage = {
    id,
    destination: target.name,
    key: checkMessageKey(options.key),
    headers: checkHeaders(options.headers),
    ...encodePayload(payload),
  }
  const size = messageSize(message)
  if (size > target.maxMessageBytes) {
    throw new MessageRefusedError(
      'size',
      `The message to "${target.name}" is ${size} bytes, over the ${target.maxMessageBytes} its broker "${target.broker}" takes: send a reference to the data instead (or raise maxMessageBytes if the broker takes more).`,
    )
  }
  return message
}
