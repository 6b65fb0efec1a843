import { MessageRefusedError } from '../errors/message-refused-error.js'
import { checkMessageId } from '../message/outbox-message.js'
import { decodePayload, type ReceivedMessage } from '../message/received-message.js'
import { describeValue } from '../util/describe-value.js'

/** A received message checked for the inbox: its id and its decoded payload. */
export interface CheckedMessage {
  readonly id: string
  readonly payload: unknown
}

/**
 * Checks a received message before the inbox touches a database: an id the outbox could have
 * given (1–128 of `A–Z a–z 0–9 . _ ~ -`), bytes for a body, and a JSON body that parses. Such a
 * message can never be applied, however often it is delivered: the broker adapter should
 * dead-letter it rather than have it redelivered.
 *
 * @throws MessageRefusedError (`id` or `payload`) naming what is wrong.
 * @example
 * ```ts
 * const { id, payload } = checkReceivedMessage(message)
 * ```
 */
export function checkReceivedMessage(message: ReceivedMessage): CheckedMessage {
  if (message === null || typeof message !== 'object') {
    throw new MessageRefusedError(
      'id',
      `The inbox takes a received message ({ id, body, contentType, headers, … }), not ${describeValue(message)}.`,
    )
  }
  const id = checkMessageId(message.id)
  if (!(message.body instanceof Uint8Array) || typeof message.contentType !== 'string') {
    throw new MessageRefusedError(
      'payload',
      `Message ${id} has no body bytes or no content type: a received message carries its body as a Uint8Array and its contentType as a string.`,
    )
  }
  let payload: unknown
  try {
    payload = decodePayload(message)
  } catch (error) {
    throw new MessageRefusedError(
      'payload',
      `Message ${id} says it is ${message.contentType} but its body does not parse: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  }
  return { id, payload }
}
