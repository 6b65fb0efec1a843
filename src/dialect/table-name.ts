import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from '../util/describe-value.js'

/** A table name, optionally schema-qualified, checked to be a plain SQL identifier. */
export interface TableName {
  readonly schema?: string
  readonly name: string
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

/**
 * Parses `table` or `schema.table`. Each part must be a plain identifier (letters, digits and
 * underscores, not starting with a digit, at most 63 characters), so it can be quoted safely on
 * every database.
 *
 * @example
 * ```ts
 * parseTableName('ops.txkit_decision') // { schema: 'ops', name: 'txkit_decision' }
 * ```
 */
export function parseTableName(text: unknown, what = 'decision log table'): TableName {
  const parts = typeof text === 'string' ? text.split('.') : []
  if (parts.length >= 1 && parts.length <= 2 && parts.every((part) => IDENTIFIER.test(part))) {
    const [first = '', second] = parts
    return second === undefined ? { name: first } : { schema: first, name: second }
  }
  throw new ConfigurationError(
    `Invalid ${what} name ${describeValue(text)}: use "table" or "schema.table" made of letters, digits and underscores.`,
  )
}

/** Renders a checked table name with the dialect's identifier quote. */
export function quoteTableName(table: TableName, quote: '"' | '`'): string {
  const parts = table.schema === undefined ? [table.name] : [table.schema, table.name]
  return parts.map((part) => `${quote}${part}${quote}`).join('.')
}
