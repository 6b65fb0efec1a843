import type { BranchGuard } from '../../../driver/driver-connection.js'

/** Statement-running methods of the connector, checked before use. */
const STATEMENT_METHODS = new Set(['query', 'execute', 'prepare', 'batch', 'queryStream'])
/** Methods that begin, end or hand over the session's transaction, or send unseen statements. */
const REFUSED_METHODS = new Set([
  'beginTransaction',
  'commit',
  'rollback',
  'changeUser',
  'reset',
  'release',
  'end',
  'close',
  'destroy',
  'importFile',
])
const SYNCHRONOUS_METHODS = new Set(['destroy', 'queryStream'])

/**
 * A connector connection as a branch hands it out: a Proxy (same object and type) whose statements
 * are checked (a string or `{ sql }`) and whose transaction, reset and release methods are refused.
 */
export function guardMariadbConnection<Connection extends object>(
  connection: Connection,
  guard: BranchGuard,
): Connection {
  const cache = new Map<PropertyKey, unknown>()
  return new Proxy(connection, {
    get(target, property) {
      const known = cache.get(property)
      if (known !== undefined) return known
      const value = Reflect.get(target, property, target)
      let answer: unknown
      if (typeof property === 'string' && REFUSED_METHODS.has(property)) {
        const refuse = () => guard.refuse(`${property}()`)
        answer = SYNCHRONOUS_METHODS.has(property) ? refuse : () => new Promise(() => refuse())
      } else if (typeof value !== 'function') {
        return value
      } else if (typeof property === 'string' && STATEMENT_METHODS.has(property)) {
        const method = value as (...args: unknown[]) => unknown
        answer = (first: unknown, ...rest: unknown[]) => {
          const sql = typeof first === 'string' ? first : (first as { sql?: unknown } | null)?.sql
          try {
            if (typeof sql === 'string') guard.statement(sql)
          } catch (error) {
            if (SYNCHRONOUS_METHODS.has(property)) throw error
            return Promise.reject(error)
          }
          return method.call(target, first, ...rest)
        }
      } else {
        answer = value.bind(target)
      }
      cache.set(property, answer)
      return answer
    },
  })
}
