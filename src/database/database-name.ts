import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from '../util/describe-value.js'

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/

/**
 * Checks a database's stable name: 1 to 64 letters, digits, `_`, `.` or `-`. The name is written
 * into decision records and given on the command line as `--db NAME=URL`.
 *
 * @example
 * ```ts
 * validateDatabaseName('orders') // 'orders'
 * ```
 */
export function validateDatabaseName(name: unknown): string {
  if (typeof name === 'string' && NAME_PATTERN.test(name)) {
    return name
  }
  throw new ConfigurationError(
    `Invalid database name ${describeValue(name)}: give each database a stable name of 1 to 64 letters, digits, "_", "." or "-", such as "orders".`,
  )
}
