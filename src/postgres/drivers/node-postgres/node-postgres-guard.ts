import type { BranchGuard } from '../../../driver/driver-connection.js'
import type { StatementQueue } from '../../../driver/statement-queue.js'

/** Calls that end a checked-out client's part in the transaction. */
const REFUSED_CALLS = new Set(['release', 'end'])

/**
 * The client as a branch hands it out: a Proxy (so `instanceof pg.Client` and the type still hold)
 * whose `query` checks the statement's text, whether given as a string, a config object or a
 * submittable (pg-cursor, pg-query-stream), and whose `release()` and `end()` are refused.
 * Functions are bound to the real client, so pg's own calls never pass the guard twice. Queries
 * wait in `queue` behind txkit's own statements and each other (a submittable, which answers
 * over time, is sent at once, as before).
 */
export function guardPgClient<Client extends object>(
  client: Client,
  guard: BranchGuard,
  queue: StatementQueue,
): Client {
  const bound = new Map<PropertyKey, unknown>()
  const query = (first: unknown, ...rest: unknown[]): unknown => {
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text
    try {
      if (typeof text === 'string') guard.statement(text)
    } catch (error) {
      const callback = rest.at(-1) ?? (first as { callback?: unknown } | null)?.callback
      if (typeof callback === 'function') {
        process.nextTick(() => callback(error))
        return undefined
      }
      if (typeof (first as { submit?: unknown } | null)?.submit === 'function') throw error
      return Promise.reject(error)
    }
    return queued(client, queue, first, rest)
  }
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query
      if (typeof property === 'string' && REFUSED_CALLS.has(property)) {
        return () => guard.refuse(`${property}()`)
      }
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      let function_ = bound.get(property)
      if (function_ === undefined) {
        function_ = value.bind(target)
        bound.set(property, function_)
      }
      return function_
    },
  })
}

/** `client.query(first, ...rest)` through `queue`, in whichever of pg's call forms it was made. */
function queued(client: object, queue: StatementQueue, first: unknown, rest: unknown[]): unknown {
  const query = (client as { query: (...args: unknown[]) => unknown }).query
  const config = first as { submit?: unknown; callback?: unknown } | null
  if (typeof config?.submit === 'function') return query.call(client, first, ...rest)
  const last = rest.at(-1)
  if (typeof last === 'function') {
    const send = (callback: Callback) => query.call(client, first, ...rest.slice(0, -1), callback)
    return inTurn(queue, last as Callback, send)
  }
  if (typeof config?.callback === 'function') {
    const send = (callback: Callback) => query.call(client, { ...config, callback })
    return inTurn(queue, config.callback as Callback, send)
  }
  return queue.run(() => query.call(client, first, ...rest) as Promise<unknown>)
}

type Callback = (...answer: unknown[]) => void

/** A callback-style query in `queue`: its turn ends when pg calls back. */
function inTurn(queue: StatementQueue, callback: Callback, send: (callback: Callback) => unknown) {
  void queue.run(
    () =>
      new Promise<void>((resolve) => {
        try {
          send((...answer: unknown[]) => {
            resolve()
            callback(...answer)
          })
        } catch (error) {
          resolve()
          process.nextTick(() => callback(error))
        }
      }),
  )
  return undefined
}
