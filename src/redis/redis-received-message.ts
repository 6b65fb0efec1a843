import type { ReceivedMessage } from '../message/received-message.js'
import { STREAM_FIELDS } from './redis-stream-fields.js'

/**
 * The {@link ReceivedMessage} of a stream entry the Redis broker wrote, from its field/value list
 * as `XREADGROUP` returns it with buffers. `undefined` when the entry has no `id` field (a foreign
 * producer's).
 *
 * @example
 * ```ts
 * const message = redisReceivedMessage([Buffer.from('id'), Buffer.from('m-1'), …])
 * ```
 */
export function redisReceivedMessage(fields: readonly Buffer[]): ReceivedMessage | undefined {
  const values = new Map<string, Buffer>()
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i]
    const value = fields[i + 1]
    if (name !== undefined && value !== undefined) values.set(name.toString('utf8'), value)
  }
  const text = (name: string) => values.get(name)?.toString('utf8')
  const id = text(STREAM_FIELDS.id)
  if (id === undefined || id === '') return undefined
  let headers: Record<string, string> = {}
  try {
    const parsed: unknown = JSON.parse(text(STREAM_FIELDS.headers) ?? '{}')
    if (parsed !== null && typeof parsed === 'object') headers = parsed as Record<string, string>
  } catch {
    headers = {}
  }
  return {
    id,
    destination: text(STREAM_FIELDS.destination),
    key: text(STREAM_FIELDS.key) ?? null,
    headers,
    body: values.get(STREAM_FIELDS.body) ?? Buffer.alloc(0),
    contentType: text(STREAM_FIELDS.contentType) ?? 'application/octet-stream',
  }
}
