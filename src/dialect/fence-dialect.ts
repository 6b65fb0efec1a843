import type { DriverConnection } from '../driver/driver-connection.js'
import type { TableName } from './table-name.js'

/** A branch's fence row: the transaction's gtrid and the branch's index. */
export interface FenceKey {
  readonly gtrid: string
  readonly index: number
}

/**
 * What claiming a branch's fence found: `claimed` (by this call or an earlier recovery: the branch
 * can never be prepared now); `committed` (the branch's own fence row is committed, so the branch
 * is); `busy` (a live branch holds it: lock timeout); `gone` (deleted meanwhile: try later).
 */
export type FenceClaim = 'claimed' | 'committed' | 'busy' | 'gone'

/**
 * The parallel protocol's fence rows (docs/architecture.md, "Parallel commit"). Each branch
 * inserts its fence row with its BEGIN and holds it uncommitted until it commits; recovery, to
 * rule a branch out for good, inserts the same key committed first. A database whose dialect has
 * none cannot take part in a parallel transaction.
 */
export interface FenceDialect {
  /** Opens a branch and inserts its fence row in it, in one message where the protocol allows. */
  begin(connection: DriverConnection, xid: string, table: TableName, key: FenceKey): Promise<void>
  /** Creates the fence table if it does not exist. */
  createTable(connection: DriverConnection, table: TableName): Promise<void>
  /** The statements `createTable` runs, for migration tools (`txkit init --print-sql`). */
  tableSql(table: TableName): string[]
  /** Inserts the key committed and claimed, waiting at most `lockTimeoutMs` for a live branch. */
  claim(
    connection: DriverConnection,
    table: TableName,
    key: FenceKey,
    lockTimeoutMs: number,
  ): Promise<FenceClaim>
  /**
   * Whether the branch's own fence row is visible and unclaimed: the row commits with its branch,
   * so its branch committed.
   */
  showsCommitted(connection: DriverConnection, table: TableName, key: FenceKey): Promise<boolean>
  /** Deletes fence rows of finished transactions. */
  delete(connection: DriverConnection, table: TableName, keys: readonly FenceKey[]): Promise<void>
  /**
   * Deletes committed fence rows older than `olderThanMs` by the database's clock, at most
   * `limit`; how many. 0 when the table does not exist.
   */
  deleteOlderThan(
    connection: DriverConnection,
    table: TableName,
    olderThanMs: number,
    limit: number,
  ): Promise<number>
}
