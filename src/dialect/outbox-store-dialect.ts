import { ConfigurationError } from '../errors/configuration-error.js'
import { parseTableName, type TableName } from './table-name.js'

/** An outbox's two tables: the messages, and one row per key (its sequence, its turn lock). */
export interface OutboxTables {
  readonly table: TableName
  readonly keyTable: TableName
}

/**
 * The outbox's two tables for `table` (default `txkit_outbox`).
 *
 * @throws ConfigurationError for a name that is not a plain identifier, or too long.
 * @example
 * ```ts
 * outboxTables('ops.txkit_outbox').keyTable // { schema: 'ops', name: 'txkit_outbox_key' }
 * ```
 */
export function outboxTables(table = 'txkit_outbox'): OutboxTables {
  const parsed = parseTableName(table, 'outbox table')
  if (parsed.name.length > 50) {
    throw new ConfigurationError(
      `The outbox table name "${parsed.name}" is too long: at most 50 characters (its key table and indexes add to it).`,
    )
  }
  return { table: parsed, keyTable: { ...parsed, name: `${parsed.name}_key` } }
}
