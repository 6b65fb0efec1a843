import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import { outboxTables } from '../dialect/outbox-store-dialect.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'

/** Where the outbox tables are. */
export interface OutboxTableOptions {
  /** The outbox table (`table` or `schema.table`); default `txkit_outbox`, its key table `<table>_key`. */
  readonly table?: string
}

const TABLE_OPTIONS = new Set(['table'])

/**
 * Creates the outbox table and its key table in `database` if they do not exist: once in every
 * database a message may be written to (the decision log's, each of `decisionDatabases`, or the
 * outbox's `database`), or `txkit init --outbox`.
 *
 * @throws ConfigurationError for a database that cannot hold an outbox.
 * @example
 * ```ts
 * import { createOutboxTables } from 'txkit'
 *
 * await createOutboxTables(orders)
 * ```
 */
export async function createOutboxTables(
  database: Database,
  options: OutboxTableOptions = {},
): Promise<void> {
  assertDatabase(database, 'createOutboxTables()')
  checkOptionNames(options, TABLE_OPTIONS, 'createOutboxTables()')
  const dialect = database.dialect.outbox
  if (dialect === undefined) {
    throw new ConfigurationError(
      `Database "${database.name}" (${database.dialect.displayName}) cannot hold an outbox.`,
    )
  }
  const tables = outboxTables(options.table)
  await withConnection(database, (connection) => dialect.createTables(connection, tables))
}
