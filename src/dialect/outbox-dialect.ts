import type { DriverConnection } from '../driver/driver-connection.js'
import type { OutboxTables } from './outbox-store-dialect.js'
import type { TableName } from './table-name.js'

/** One message as a transaction writes it into the outbox. */
export interface OutboxRow {
  readonly id: string
  readonly destination: string
  readonly key: string | null
  /** The headers as a JSON object. */
  readonly headers: string
  readonly body: Uint8Array
  readonly contentType: string
}

/**
 * A database that can hold an outbox: its tables, and the write of a transaction's messages inside
 * the transaction (docs/outbox.md). Messages of one key take a row lock on the key's row in the key
 * table and a sequence number under it, so that transactions sending one key take turns at commit
 * and their messages are numbered in commit order.
 */
export interface OutboxDialect {
  /** Creates the outbox table and its key table if they do not exist. */
  createTables(connection: DriverConnection, tables: OutboxTables): Promise<void>
  /** The statements `createTables` runs, for migration tools (`txkit init --print-sql`). */
  tablesSql(tables: OutboxTables): string[]
  /**
   * Inserts `rows`, in their order, in the transaction open on `connection`.
   *
   * @throws MessageRefusedError (`duplicate-id`) when an id is already in the outbox.
   */
  insert(
    connection: DriverConnection,
    tables: OutboxTables,
    rows: readonly OutboxRow[],
    gtrid: string,
  ): Promise<void>
  /** Whether a notification can wake a relay (PostgreSQL: LISTEN / NOTIFY). */
  readonly wakes: boolean
}

export type { TableName }
