import type { BranchGuard } from '../../../driver/driver-connection.js'

/** Statement-running methods of mysql2 connections (promise and callback), checked before use. */
const STATEMENT_METHODS = new Set(['query', 'execute', 'prepare'])
/** Methods that begin, end or hand over the session's transaction: never on a branch. */
const REFUSED_METHODS = new Set([
  'beginTransaction',
  'commit',
  'rollback',
  'changeUser',
  'reset',
  'release',
  'end',
  'destroy',
])

const SYNCHRONOUS_METHODS = new Set(['release', 'destroy'])

/**
 * A mysql2 connection as a branch hands it out: a Proxy (same object and type to the caller) whose
 * `query`, `execute` and `prepare` check the statement (a string or `{ sql }`) and whose
 * transaction, reset and release methods are refused. The callback connection under a promise
 * connection (`.connection`) and the promise wrapper of a callback connection (`.promise()`) are
 * guarded the same way.
 */
export function guardMysqlConnection<Connection extends object>(
  connection: Connection,
  guard: BranchGuard,
  promiseApi: boolean,
): Connection {
  const cache = new Map<PropertyKey, unknown>()
  const checked =
    (method: (...args: unknown[]) => unknown) =>
    (first: unknown, ...rest: unknown[]): unknown => {
      const sql = typeof first === 'string' ? first : (first as { sql?: unknown } | null)?.sql
      try {
        if (typeof sql === 'string') guard.statement(sql)
      } catch (error) {
        const callback = rest.at(-1)
        if (typeof callback === 'function') {
          process.nextTick(() => callback(error))
          return undefined
        }
        if (promiseApi) return Promise.reject(error)
        throw error
      }
      return method.call(connection, first, ...rest)
    }
  return new Proxy(connection, {
    get(target, property) {
      const known = cache.get(property)
      if (known !== undefined) return known
      const value = Reflect.get(target, property, target)
      let answer: unknown
      if (typeof property === 'string' && REFUSED_METHODS.has(property)) {
        const refuse = () => guard.refuse(`${property}()`)
        // The promise API answers with a promise, except release() and destroy().
        answer =
          promiseApi && !SYNCHRONOUS_METHODS.has(property)
            ? () => new Promise(() => refuse())
            : refuse
      } else if (
        property === 'connection' &&
        promiseApi &&
        value !== null &&
        typeof value === 'object'
      ) {
        answer = guardMysqlConnection(value, guard, false)
      } else if (typeof value !== 'function') {
        return value
      } else if (typeof property === 'string' && STATEMENT_METHODS.has(property)) {
        answer = checked(value as (...args: unknown[]) => unknown)
      } else if (property === 'promise' && !promiseApi) {
        answer = (...args: unknown[]) =>
          guardMysqlConnection(
            (value as (...a: unknown[]) => object).apply(target, args),
            guard,
            true,
          )
      } else {
        answer = value.bind(target)
      }
      cache.set(property, answer)
      return answer
    },
  })
}
