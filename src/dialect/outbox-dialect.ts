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
 * the transaction (docs/outbox.md). Transactions sending one key take turns at commit, holding a
 * lock of the key until they end, and number its messages under the lock: in commit order.
 */
export interface OutboxDialect {
  /**
   * Whether it keeps a row per key in the key table (`<table>_key`: MySQL/MariaDB, whose lock
   * and number it is); PostgreSQL locks keys with advisory locks and numbers by position.
   */
  readonly keyTable: boolean
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
  /**
   * The same insert as one statement with its values written into it, for a database whose
   * one-phase COMMIT carries it in its own message (`TwoPhaseControl.commitOnePhase`'s `before`):
   * the outbox branch that commits in one step then spends no round trip on its messages.
   */
  insertStatement?(tables: OutboxTables, rows: readonly OutboxRow[], gtrid: string): string
  /**
   * What a failure of `insertStatement` means to the sender: a `MessageRefusedError`
   * (`duplicate-id`) when the error says an id is taken, else undefined.
   */
  refusal?(error: unknown, tables: OutboxTables): Error | undefined
  /** Whether a notification can wake a relay (PostgreSQL: LISTEN / NOTIFY). */
  readonly wakes: boolean
}

export type { TableName }
