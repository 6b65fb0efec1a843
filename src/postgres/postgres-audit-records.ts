import type { AuditRecordsDialect, AuditRow } from '../dialect/audit-records.js'
import { quoteTableName } from '../dialect/table-name.js'

/** PostgreSQL's audit table of operators' resolutions, stamped with the server's clock. */
export const postgresAuditRecords: AuditRecordsDialect = {
  auditTableSql(table) {
    const name = quoteTableName(table, '"')
    return [
      ...(table.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${table.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${name} (
  id bigserial PRIMARY KEY,
  at timestamptz NOT NULL DEFAULT clock_timestamp(),
  actor varchar(100) NOT NULL,
  reason varchar(500) NOT NULL,
  gtrid varchar(64) NOT NULL,
  decision varchar(8) NOT NULL,
  recorded char(1) NULL,
  outcome varchar(16) NOT NULL,
  actions text NOT NULL
)`,
    ]
  },

  async createAuditTable(connection, table) {
    for (const statement of this.auditTableSql(table)) await connection.query(statement)
  },

  async auditTableExists(connection, table) {
    const { rows } = await connection.query<{ found: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS found',
      [quoteTableName(table, '"')],
    )
    return rows[0]?.found === true
  },

  async insertAudit(connection, table, entry) {
    await connection.query(
      `INSERT INTO ${quoteTableName(table, '"')} (actor, reason, gtrid, decision, recorded, outcome, actions)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
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
      `SELECT id::float8 AS id, extract(epoch FROM at)::float8 * 1000 AS at, actor, reason, gtrid,
              decision, recorded, outcome, actions
       FROM ${quoteTableName(table, '"')}
       WHERE $1::varchar IS NULL OR gtrid = $1 ORDER BY id DESC LIMIT $2::int`,
      [gtrid ?? null, limit],
    )
    return rows.map((row) => ({ ...row, id: Number(row.id), at: Math.round(Number(row.at)) }))
  },
}
