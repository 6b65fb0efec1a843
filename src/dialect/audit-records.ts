import type { DriverConnection } from '../driver/driver-connection.js'
import type { TableName } from './table-name.js'

/** How an operator's resolution ended (`txkit resolve`). */
export type AuditOutcome =
  /** Decided as the protocol allows, and carried out. */
  | 'resolved'
  /** Carried out with `--heuristic`: the outcome of a branch already finished is not known. */
  | 'heuristic'
  /** Nothing changed: it would have contradicted the recorded decision, or was not allowed. */
  | 'refused'

/** One row of the audit table: who resolved which transaction, how and why. */
export interface AuditEntry {
  /** The operator (`--actor`, else the OS user). */
  readonly actor: string
  /** Why (`--reason`). */
  readonly reason: string
  readonly gtrid: string
  /** What the operator asked for. */
  readonly decision: 'commit' | 'rollback'
  /** The decision row the transaction has after the resolution ('C', 'A'); null for none. */
  readonly recorded: 'C' | 'A' | 'S' | null
  readonly outcome: AuditOutcome
  /** What was done on each database, as JSON text. */
  readonly actions: string
}

/** A row as read back, with its number and when it was written (by the database's clock). */
export interface AuditRow extends AuditEntry {
  readonly id: number
  /** ms since the epoch. */
  readonly at: number
}

/** The audit table of operators' resolutions: its DDL, one insert, and the listing. */
export interface AuditRecordsDialect {
  /** The statements that create the audit table if it does not exist (`txkit init --audit`). */
  auditTableSql(table: TableName): string[]
  createAuditTable(connection: DriverConnection, table: TableName): Promise<void>
  /** Whether the audit table exists. */
  auditTableExists(connection: DriverConnection, table: TableName): Promise<boolean>
  /** Appends one row, stamped with the database's clock. */
  insertAudit(connection: DriverConnection, table: TableName, entry: AuditEntry): Promise<void>
  /** The newest `limit` rows (of `gtrid` when given), newest first. */
  readAudit(
    connection: DriverConnection,
    table: TableName,
    gtrid: string | undefined,
    limit: number,
  ): Promise<AuditRow[]>
}
