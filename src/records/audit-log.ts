import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { AuditEntry, AuditRecordsDialect, AuditRow } from '../dialect/audit-records.js'
import { parseTableName, type TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'

/** The audit table's name unless configured. */
export const DEFAULT_AUDIT_TABLE = 'txkit_audit'

/**
 * The audit table of operators' resolutions (`txkit resolve`) in one database: who resolved which
 * transaction, when, why, and what was done on each database. Created explicitly
 * (`createAuditTable`, `txkit init --audit`); a resolution refuses to run without it.
 */
export class AuditLog {
  readonly table: TableName
  readonly tableText: string
  readonly database: Database

  constructor(database: Database, tableText: string = DEFAULT_AUDIT_TABLE) {
    this.database = database
    this.tableText = tableText
    this.table = parseTableName(tableText, 'audit table')
  }

  /**
   * The audit dialect of the database.
   *
   * @throws ConfigurationError when the database cannot hold the audit table.
   */
  get dialect(): AuditRecordsDialect {
    const audit = this.database.dialect.audit
    if (audit === undefined) {
      throw new ConfigurationError(
        `Database "${this.database.name}" (${this.database.dialect.displayName}) cannot hold the audit table.`,
      )
    }
    return audit
  }

  /** The statements that create the table (for migration tools). */
  sql(): string[] {
    return this.dialect.auditTableSql(this.table)
  }

  /** Creates the table if it does not exist. */
  async create(): Promise<void> {
    const dialect = this.dialect
    await withConnection(this.database, (connection) =>
      dialect.createAuditTable(connection, this.table),
    )
  }

  async exists(): Promise<boolean> {
    const dialect = this.dialect
    return withConnection(this.database, (connection) =>
      dialect.auditTableExists(connection, this.table),
    )
  }

  async write(entry: AuditEntry): Promise<void> {
    const dialect = this.dialect
    await withConnection(this.database, (connection) =>
      dialect.insertAudit(connection, this.table, entry),
    )
  }

  /** The newest `limit` rows, of `gtrid` when given, newest first. */
  async list(gtrid: string | undefined, limit: number): Promise<AuditRow[]> {
    const dialect = this.dialect
    return withConnection(this.database, (connection) =>
      dialect.readAudit(connection, this.table, gtrid, limit),
    )
  }
}

/**
 * Creates the audit table in `database` if it does not exist.
 *
 * @example
 * ```ts
 * await createAuditTable(orders) // txkit_audit in orders
 * ```
 */
export async function createAuditTable(database: Database, table?: string): Promise<void> {
  await new AuditLog(database, table).create()
}
