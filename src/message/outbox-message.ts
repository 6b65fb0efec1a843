import { randomUUID } from 'node:crypto'
import { MessageRefusedError } from '../errors/message-refused-error.js'
import { describeValue } from '../util/describe-value.js'

/** What `send` takes besides the destination and the payload. */
export interface SendOptions {
  /**
   * The message's id: stable across every delivery, the broker's deduplication id (NATS
   * `Nats-Msg-Id`, BullMQ job id, AMQP `messageId`) and the inbox's key. 1–128 characters of
   * `A–Z a–z 0–9 . _ ~ -`. Default: a new time-ordered id (UUID version 7).
   */
  readonly id?: string
  /**
   * Messages of one key are published in the order their transactions committed (transactions
   * sending the same key take turns at commit). Without a key, no order is promised.
   */
  readonly key?: string
  /** Headers carried to the broker; names `A–Z a–z 0–9 - _ .`, values without line breaks. */
  readonly headers?: Readonly<Record<string, string>>
}

/** A message as the outbox keeps it and the relay publishes it. */
export interface OutboxMessage {
  readonly id: string
  readonly destination: string
  readonly key: string | null
  readonly headers: Readonly<Record<string, string>>
  readonly body: Uint8Array
  /** `application/json` for a value, `application/octet-stream` for bytes. */
  readonly contentType: string
}

export const JSON_CONTENT = 'application/json'
export const BYTES_CONTENT = 'application/octet-stream'

const ID = /^[A-Za-z0-9._~-]{1,128}$/
const HEADER_NAME = /^[A-Za-z0-9._-]{1,128}$/
const MAX_KEY_LENGTH = 255
/** Headers txkit sets itself. */
export const RESERVED_HEADERS = new Set(['txkit-message-id', 'txkit-destination', 'txkit-key'])

/**
 * A new message id: a UUID version 7 (48 bits of milliseconds, then random), so ids sort by
 * creation time and index well.
 *
 * @example
 * ```ts
 * newMessageId() // '0192f4c1-7b2e-7c3a-9d1e-5f2a8b6c4d3e'
 * ```
 */
export function newMessageId(now = Date.now()): string {
  // A version 4 UUID's random bits (crypto keeps a cache of them), its first 48 bits replaced by
  // the time and its version digit by 7; its variant bits are already those of version 7.
  const random = randomUUID()
  const time = now.toString(16).padStart(12, '0')
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${random.slice(15)}`
}

/**
 * Turns a payload into the bytes the outbox keeps: bytes as given, anything else as JSON that
 * reads back as the same value. Refuses what JSON would silently change or drop (a function, a
 * symbol, a bigint, `NaN` or `Infinity`, a `Map` or `Set`, `undefined` on its own) and what it
 * cannot write (a cycle).
 *
 * @throws MessageRefusedError (`payload`)
 * @example
 * ```ts
 * encodePayload({ orderId: 7 }) // { body: Uint8Array [123, 34, …], contentType: 'application/json' }
 * ```
 */
export function encodePayload(payload: unknown): { body: Uint8Array; contentType: string } {
  if (payload instanceof Uint8Array) return { body: payload, contentType: BYTES_CONTENT }
  let text: string | undefined
  try {
    text = JSON.stringify(payload, (key, value: unknown) => {
      const problem = unserializable(value)
      if (problem !== undefined) {
        throw new MessageRefusedError(
          'payload',
          `The message payload ${key === '' ? '' : `at "${key}" `}is ${problem}, which JSON cannot carry as it is: send plain JSON values (or a Uint8Array).`,
        )
      }
      return value
    })
  } catch (error) {
    if (error instanceof MessageRefusedError) throw error
    throw new MessageRefusedError(
      'payload',
      `The message payload does not serialize to JSON: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  }
  if (text === undefined) {
    throw new MessageRefusedError(
      'payload',
      `The message payload is ${describeValue(payload)}: send a JSON value or a Uint8Array.`,
    )
  }
  return { body: Buffer.from(text, 'utf8'), contentType: JSON_CONTENT }
}

function unserializable(value: unknown): string | undefined {
  switch (typeof value) {
    case 'function':
      return 'a function'
    case 'symbol':
      return 'a symbol'
    case 'bigint':
      return 'a bigint (send it as a string)'
    case 'number':
      return Number.isFinite(value) ? undefined : `${value} (not a JSON number)`
    case 'object':
      if (value instanceof Map) return 'a Map (send an object or an array of entries)'
      if (value instanceof Set) return 'a Set (send an array)'
      return undefined
    default:
      return undefined
  }
}

/** @throws MessageRefusedError (`id`) */
export function checkMessageId(id: unknown): string {
  if (typeof id === 'string' && /^[0-9]+$/.test(id)) {
    throw new MessageRefusedError(
      'id',
      `Invalid message id "${id}": an id of digits only is what brokers number their own messages with (BullMQ refuses it as a job id); add a prefix, such as "order-${id}".`,
    )
  }
  if (typeof id === 'string' && ID.test(id)) return id
  throw new MessageRefusedError(
    'id',
    `Invalid message id ${describeValue(id)}: use 1 to 128 characters of letters, digits, ".", "_", "~" and "-".`,
  )
}

/** @throws MessageRefusedError (`key`) */
export function checkMessageKey(key: unknown): string | null {
  if (key === undefined || key === null) return null
  if (typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_LENGTH) {
    if (!key.includes('\0')) return key
    throw new MessageRefusedError(
      'key',
      'Invalid message key: it holds a NUL character, which database text cannot hold.',
    )
  }
  throw new MessageRefusedError(
    'key',
    `Invalid message key ${describeValue(key)}: a key is a string of 1 to ${MAX_KEY_LENGTH} characters.`,
  )
}

/** @throws MessageRefusedError (`headers`) */
export function checkHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined) return {}
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) {
    throw new MessageRefusedError(
      'headers',
      `Message headers are an object of strings, not ${describeValue(headers)}.`,
    )
  }
  const checked: Record<string, string> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name) || RESERVED_HEADERS.has(name.toLowerCase())) {
      throw new MessageRefusedError(
        'headers',
        `Invalid header name ${describeValue(name)}: use letters, digits, "-", "_" and "."${RESERVED_HEADERS.has(name.toLowerCase()) ? ' (txkit sets this one itself)' : ''}.`,
      )
    }
    if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      throw new MessageRefusedError(
        'headers',
        `Header "${name}" must be a string without line breaks, not ${describeValue(value)}.`,
      )
    }
    checked[name] = value
  }
  return checked
}

/** The size a broker sees: body, headers and id. */
export function messageSize(message: OutboxMessage): number {
  let size = message.body.byteLength + Buffer.byteLength(message.id)
  for (const [name, value] of Object.entries(message.headers)) {
    size += Buffer.byteLength(name) + Buffer.byteLength(value)
  }
  return size
}
