import type { InboxDialect } from '../dialect/inbox-dialect.js'
import { quoteTableName } from '../dialect/table-name.js'

/**
 * PostgreSQL's inbox. `INSERT … ON CONFLICT DO NOTHING` under READ COMMITTED waits for another
 * transaction's uncommitted (or prepared) row of the same key, then inserts nothing if it committed
 * and inserts if it rolled back: two deliveries of one message apply it once.
 */
export const postgresInbox: InboxDialect = {
  async createTable(connection, table) {
    await connection.query(this.tableSql(table).join(';\n'))
  },

  tableSql(table) {
    return [
      ...(table.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${table.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '"')} (
  consumer varchar(100) NOT NULL,
  message_id varchar(128) NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
)`,
      `CREATE INDEX IF NOT EXISTS "${table.name}_received" ON ${quoteTableName(table, '"')} (consumer, received_at)`,
    ]
  },

  async record(branch, table, consumer, messageId) {
    const { affectedRows } = await branch.query(
      `INSERT INTO ${quoteTableName(table, '"')} (consumer, message_id) VALUES ($1, $2) ON CONFLICT (consumer, message_id) DO NOTHING`,
      [consumer, messageId],
    )
    return affectedRows === 1
  },

  async recorded(connection, table, consumer, messageId) {
    const { rows } = await connection.query(
      `SELECT 1 AS found FROM ${quoteTableName(table, '"')} WHERE consumer = $1 AND message_id = $2`,
      [consumer, messageId],
    )
    return rows.length > 0
  },

  async deleteOlderThan(connection, table, consumer, olderThanMs, limit) {
    const name = quoteTableName(table, '"')
    const { affectedRows } = await connection.query(
      `DELETE FROM ${name} WHERE (consumer, message_id) IN (
  SELECT consumer, message_id FROM ${name}
  WHERE consumer = $1 AND received_at < now() - make_interval(secs => $2::double precision / 1000)
  ORDER BY received_at LIMIT $3
)`,
      [consumer, olderThanMs, limit],
    )
    return affectedRows
  },
}
