import type { OutboxMessage } from '../message/outbox-message.js'
import type { ReceivedMessage } from '../message/received-message.js'

const JSON_CONTENT = 'application/json'

/**
 * The data of a job the BullMQ broker adds: the message's id, destination, key, headers and
 * content type, and its payload as the JSON value it was sent as (`payload`) or, for other
 * content, its bytes in base64 (`body`).
 */
export interface TxkitJobData {
  readonly id: string
  readonly destination: string
  readonly key: string | null
  readonly headers: Readonly<Record<string, string>>
  readonly contentType: string
  readonly payload?: unknown
  readonly body?: string
}

/**
 * The job data of `message`.
 *
 * @example
 * ```ts
 * jobData(message) // { id: 'm-1', destination: 'order-events', key: null, headers: {}, contentType: 'application/json', payload: { … } }
 * ```
 */
export function jobData(message: OutboxMessage): TxkitJobData {
  const bytes = Buffer.from(message.body.buffer, message.body.byteOffset, message.body.byteLength)
  const common = {
    id: message.id,
    destination: message.destination,
    key: message.key,
    headers: message.headers,
    contentType: message.contentType,
  }
  if (message.contentType === JSON_CONTENT) {
    return { ...common, payload: JSON.parse(bytes.toString('utf8')) as unknown }
  }
  return { ...common, body: bytes.toString('base64') }
}

/**
 * The {@link ReceivedMessage} of a job the BullMQ broker added. `undefined` when the job's data is
 * not such (a job added by other code).
 *
 * @example
 * ```ts
 * new Worker('orders', async (job) => {
 *   const message = bullmqReceivedMessage(job.data)
 * }, { connection })
 * ```
 */
export function bullmqReceivedMessage(data: unknown): ReceivedMessage | undefined {
  if (data === null || typeof data !== 'object') return undefined
  const job = data as Partial<TxkitJobData>
  if (typeof job.id !== 'string' || typeof job.contentType !== 'string') return undefined
  const body =
    typeof job.body === 'string'
      ? Buffer.from(job.body, 'base64')
      : Buffer.from(JSON.stringify(job.payload ?? null), 'utf8')
  return {
    id: job.id,
    destination: typeof job.destination === 'string' ? job.destination : undefined,
    key: typeof job.key === 'string' ? job.key : null,
    headers: job.headers ?? {},
    body,
    contentType: job.contentType,
  }
}
