import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import { checkOptionNames } from '../util/check-option-names.js'
import {
  INBOX_TABLE_OPTIONS,
  type InboxTableOptions,
  inboxDialectOf,
  inboxTable,
} from './inbox-options.js'

/**
 * Creates the inbox table in `database` if it does not exist: `(consumer, message_id)` as its
 * primary key and `received_at`, shared by every consumer keeping its records there.
 *
 * @throws ConfigurationError for a database that cannot hold an inbox or a bad table name.
 * @example
 * ```ts
 * import { createInboxTable } from 'txkit'
 *
 * await createInboxTable(ordersDb)
 * ```
 */
export async function createInboxTable(
  database: Database,
  options: InboxTableOptions = {},
): Promise<void> {
  assertDatabase(database, 'createInboxTable()')
  checkOptionNames(options, INBOX_TABLE_OPTIONS, 'createInboxTable()')
  const dialect = inboxDialectOf(database, 'createInboxTable()')
  const table = inboxTable(options.table)
  await withConnection(database, (connection) => dialect.createTable(connection, table))
}

/**
 * The statements {@link createInboxTable} runs on `database`, for migration tools.
 *
 * @example
 * ```ts
 * for (const sql of inboxTableSql(ordersDb)) console.log(`${sql};`)
 * ```
 */
export function inboxTableSql(database: Database, options: InboxTableOptions = {}): string[] {
  assertDatabase(database, 'inboxTableSql()')
  checkOptionNames(options, INBOX_TABLE_OPTIONS, 'inboxTableSql()')
  return inboxDialectOf(database, 'inboxTableSql()').tableSql(inboxTable(options.table))
}
