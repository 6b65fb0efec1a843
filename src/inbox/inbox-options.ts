import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import type { InboxDialect } from '../dialect/inbox-dialect.js'
import { parseTableName, type TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionManager } from '../manager/transaction-manager.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'

/** What `createInbox` takes. */
export interface InboxOptions {
  /** The transaction manager each message's transaction runs in (`manager.run`). */
  readonly manager: TransactionManager
  /**
   * The database holding the inbox table: the ids of applied messages are written there, in the
   * same atomic commit as the handler's writes. Usually one the handler writes to anyway.
   */
  readonly database: Database
  /** The inbox table (`table` or `schema.table`); default `txkit_inbox`. */
  readonly table?: string
  /**
   * The consumer's name, 1 to 100 characters: each consumer applies a message once, so several
   * services (or several handlers of one service) reading the same messages each name their own.
   * Keep it stable: a renamed consumer applies again every message it is sent again.
   */
  readonly consumer: string
}

/** What `createInboxTable` and `collectGarbage` are told about the table. */
export interface InboxTableOptions {
  /** The inbox table (`table` or `schema.table`); default `txkit_inbox`. */
  readonly table?: string
}

export const DEFAULT_INBOX_TABLE = 'txkit_inbox'
const INBOX_OPTIONS = new Set(['manager', 'database', 'table', 'consumer'])
export const INBOX_TABLE_OPTIONS = new Set(['table'])
const MAX_CONSUMER_LENGTH = 100
/** The index `<table>_received` must stay within identifier limits (63 on PostgreSQL, 64 MySQL). */
const MAX_TABLE_NAME_LENGTH = 54

/** The checked settings of one inbox. */
export interface InboxSettings {
  readonly manager: TransactionManager
  readonly database: Database
  readonly dialect: InboxDialect
  readonly table: TableName
  readonly consumer: string
}

/**
 * The inbox table `table` names (default `txkit_inbox`).
 *
 * @throws ConfigurationError for a name that is not a plain identifier, or too long.
 * @example
 * ```ts
 * inboxTable('ops.txkit_inbox') // { schema: 'ops', name: 'txkit_inbox' }
 * ```
 */
export function inboxTable(table: unknown = DEFAULT_INBOX_TABLE): TableName {
  const parsed = parseTableName(table, 'inbox table')
  if (parsed.name.length > MAX_TABLE_NAME_LENGTH) {
    throw new ConfigurationError(
      `The inbox table name "${parsed.name}" is too long: at most ${MAX_TABLE_NAME_LENGTH} characters (its index adds to it).`,
    )
  }
  return parsed
}

/**
 * The inbox role of `database`'s dialect.
 *
 * @throws ConfigurationError for a database that cannot hold an inbox.
 * @example
 * ```ts
 * const dialect = inboxDialectOf(orders, 'createInbox()')
 * ```
 */
export function inboxDialectOf(database: Database, where: string): InboxDialect {
  const dialect = database.dialect.inbox
  if (dialect === undefined) {
    throw new ConfigurationError(
      `${where}: database "${database.name}" (${database.dialect.displayName}) cannot hold an inbox; keep the inbox table in one of the databases that can.`,
    )
  }
  return dialect
}

/**
 * Checks `createInbox`'s options: every name known, a transaction manager, a database that can
 * hold an inbox, a valid table name and consumer name.
 *
 * @throws ConfigurationError naming the option and what it takes.
 * @example
 * ```ts
 * const settings = checkInboxOptions({ manager, database: orders, consumer: 'billing' })
 * ```
 */
export function checkInboxOptions(options: InboxOptions): InboxSettings {
  checkOptionNames(options, INBOX_OPTIONS, 'createInbox()')
  const { manager, database, consumer } = options
  if (!(manager instanceof TransactionManager)) {
    throw new ConfigurationError(
      `createInbox() takes a transaction manager as \`manager\` (createTransactionManager(…)), not ${describeValue(manager)}.`,
    )
  }
  assertDatabase(database, 'createInbox() database')
  if (
    typeof consumer !== 'string' ||
    consumer.length === 0 ||
    consumer.length > MAX_CONSUMER_LENGTH ||
    consumer.trim() !== consumer ||
    /\p{Cc}/u.test(consumer)
  ) {
    throw new ConfigurationError(
      `createInbox() needs \`consumer\`: a name of 1 to ${MAX_CONSUMER_LENGTH} characters, without control characters or surrounding spaces, stable across restarts (such as "billing"), not ${describeValue(consumer)}.`,
    )
  }
  return {
    manager,
    database,
    dialect: inboxDialectOf(database, 'createInbox()'),
    table: inboxTable(options.table),
    consumer,
  }
}
