import type { DriverConnection } from '../driver/driver-connection.js'
import type { TableName } from './table-name.js'

/** Runs one statement: a pooled connection, or a transaction's branch. */
export type InboxStatements = Pick<DriverConnection, 'query'>

/**
 * A database that can hold an inbox: the table of message ids a consumer has applied
 * (`(consumer, message_id)` primary key, `received_at` by the database's clock), the insert that
 * records one inside the handler's transaction, the read that finds one, and the deletion of old
 * ones (docs/outbox.md, "Inbox").
 */
export interface InboxDialect {
  /** Creates the inbox table (and its schema) if it does not exist. */
  createTable(connection: DriverConnection, table: TableName): Promise<void>
  /** The statements `createTable` runs, for migration tools. */
  tableSql(table: TableName): string[]
  /**
   * Inserts `(consumer, messageId)` in the transaction open on `branch`: true when inserted, false
   * when the row is already there. A row another transaction inserted and has not finished (even
   * prepared) is waited for: false once it commits, inserted once it rolls back.
   */
  record(
    branch: InboxStatements,
    table: TableName,
    consumer: string,
    messageId: string,
  ): Promise<boolean>
  /** Whether a committed row records `(consumer, messageId)`; never waits for a lock. */
  recorded(
    connection: InboxStatements,
    table: TableName,
    consumer: string,
    messageId: string,
  ): Promise<boolean>
  /**
   * Deletes at most `limit` of `consumer`'s rows received more than `olderThanMs` ago by the
   * database's clock, oldest first; answers how many went.
   */
  deleteOlderThan(
    connection: InboxStatements,
    table: TableName,
    consumer: string,
    olderThanMs: number,
    limit: number,
  ): Promise<number>
}

export type { TableName }
