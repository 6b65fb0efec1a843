import type { BranchGuard } from '../../../driver/driver-connection.js'

/**
 * Said instead of sending a statement on a reservation whose connection closed. postgres.js 3.4
 * would write it to the closed socket (an uncaught TypeError that ends the process) or, once the
 * pool has reconnected that connection for someone else, run it in their session
 * (porsager/postgres#1208); 4 refuses it itself (`CONNECTION_CLOSED`), as a connection object there
 * is never reopened. SQLSTATE 08003 is "connection does not exist".
 */
export function sessionEndedError(): Error {
  return Object.assign(
    new Error(
      'txkit: the server session of this postgres.js reserved connection ended; the statement was not sent',
    ),
    { code: '08003' },
  )
}

/** Calls on a reserved connection that would end its part in the branch. */
const REFUSED_CALLS = new Set(['release', 'begin', 'end', 'close', 'reserve'])

/**
 * The reserved connection as a branch hands it out: a Proxy over the `sql` function whose tagged
 * template calls and `unsafe()` check the statement, and whose `release()` is refused. `file()` is
 * refused too: the statement it would send cannot be seen.
 */
export function guardReserved<Reserved extends object>(
  reserved: Reserved,
  guard: BranchGuard,
  isLost: () => boolean,
): Reserved {
  const cache = new Map<PropertyKey, unknown>()
  return new Proxy(reserved, {
    apply(target, self, args) {
      const strings = args[0] as { raw?: unknown } | undefined
      if (Array.isArray(strings) && Array.isArray(strings.raw)) {
        guard.statement(
          strings.map((part, index) => (index === 0 ? part : `$${index} ${part}`)).join(''),
        )
        if (isLost()) throw sessionEndedError()
      }
      return Reflect.apply(target as unknown as (...a: unknown[]) => unknown, self, args)
    },
    get(target, property) {
      const known = cache.get(property)
      if (known !== undefined) return known
      const value = Reflect.get(target, property, target)
      let answer: unknown
      if (typeof property === 'string' && REFUSED_CALLS.has(property)) {
        answer = () => guard.refuse(`${property}()`)
      } else if (property === 'file') {
        answer = () => guard.refuse('file() (its statement cannot be checked)')
      } else if (property === 'unsafe' && typeof value === 'function') {
        answer = (text: unknown, ...rest: unknown[]) => {
          if (typeof text === 'string') guard.statement(text)
          if (isLost()) throw sessionEndedError()
          return (value as (...a: unknown[]) => unknown).call(target, text, ...rest)
        }
      } else if (typeof value === 'function') {
        answer = value.bind(target)
      } else {
        return value
      }
      cache.set(property, answer)
      return answer
    },
  })
}
