import { ConfigurationError } from '../errors/configuration-error.js'
import type { Database } from './database.js'

/**
 * Checks that `value`, given as `name`, is a txkit database rather than, say, a bare driver pool.
 *
 * @throws ConfigurationError naming the value and how to wrap a pool.
 * @example
 * ```ts
 * assertDatabase(pool, 'orders') // throws: "orders" is not a txkit database: wrap the pool …
 * ```
 */
export function assertDatabase(value: unknown, name: string): asserts value is Database {
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof (value as Partial<Database>).acquire !== 'function'
  ) {
    throw new ConfigurationError(
      `"${name}" is not a txkit database: wrap the pool with pgDatabase(...) or mysqlDatabase(...).`,
    )
  }
}
