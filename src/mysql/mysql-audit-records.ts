import type { AuditRecordsDialect, AuditRow } from '../dialect/audit-records.js'
import { quoteTableName } from '../dialect/table-name.js'

/** MySQL's and MariaDB's audit table of operators' resolutions (InnoDB), the server's clock. */
export const mysqlAuditRecords: AuditRecordsDialect = {
  auditTableSql(table) {
    return [
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '`')} (
  id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  actor varchar(100) CHARACTER SET utf8mb4 NOT NULL,
  reason varchar(500) CHARACTER SET utf8mb4 NOT NULL,
  gtrid varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  decision varchar(8) CHARACTER SET ascii NOT NULL,
  recorded char(1) CHARACTER SET ascii NULL,
  outcome varchar(16) CHARACTER SET ascii NOT NULL,
  actions mediumtext CHARACTER SET utf8mb4 NOT NULL
) ENGINE=InnoDB COMMENT='txkit audit of resolutions'`,
    ]
  },

  async createAuditTable(connection, table) {
    for (const statement of this.auditTableSql(table)) await connection.query(statement)
  },

  async auditTableExists(connection, table) {
    const { rows } = await connection.query(
      `SELECT 1 AS found FROM information_schema.TABLES
       WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`,
      [table.schema ?? null, table.name],
    )
    return rows.length > 0
  },

  async insertAudit(connection, table, entry) {
    await connection.query(
      `INSERT INTO ${quoteTableName(table, '`')} (actor, reason, gtrid, decision, recorded, outcome, actions)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
      [
        entry.actor,
        entry.reason,
        entry.gtrid,
        entry.decision,
        entry.recorded,
        entry.outcome,
        entry.actions,
      ],
    )
  },

  async readAudit(connection, table, gtrid, limit) {
    const { rows } = await connection.query<AuditRow>(
      `SELECT id, UNIX_TIMESTAMP(at) * 1000 AS at, actor, reason, gtrid, decision, recorded,
              outcome, actions
       FROM ${quoteTableName(table, '`')}
       WHERE ? IS NULL OR gtrid = ? ORDER BY id DESC LIMIT ?`,
      [gtrid ?? null, gtrid ?? null, limit],
    )
    return rows.map((row) => ({ ...row, id: Number(row.id), at: Math.round(Number(row.at)) }))
  },
}
