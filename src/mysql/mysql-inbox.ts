import type { InboxDialect } from '../dialect/inbox-dialect.js'
import { quoteTableName } from '../dialect/table-name.js'
import { ER_DUP_ENTRY, errno } from './mysql-error-codes.js'

/**
 * MySQL's and MariaDB's inbox. A plain INSERT waits (a shared lock on the key) for another
 * transaction's uncommitted or XA-prepared row of the same key; it fails with a duplicate-key error
 * once that one commits, which rolls back this statement only, and inserts once it rolls back.
 */
export const mysqlInbox: InboxDialect = {
  async createTable(connection, table) {
    for (const statement of this.tableSql(table)) await connection.query(statement)
  },

  tableSql(table) {
    return [
      ...(table.schema === undefined ? [] : [`CREATE DATABASE IF NOT EXISTS \`${table.schema}\``]),
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '`')} (
  consumer VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  message_id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  received_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (consumer, message_id),
  KEY \`${table.name}_received\` (consumer, received_at)
) ENGINE=InnoDB`,
    ]
  },

  async record(branch, table, consumer, messageId) {
    try {
      await branch.query(
        `INSERT INTO ${quoteTableName(table, '`')} (consumer, message_id) VALUES (?, ?)`,
        [consumer, messageId],
      )
      return true
    } catch (error) {
      if (errno(error) === ER_DUP_ENTRY) return false
      throw error
    }
  },

  async recorded(connection, table, consumer, messageId) {
    const { rows } = await connection.query(
      `SELECT 1 AS found FROM ${quoteTableName(table, '`')} WHERE consumer = ? AND message_id = ?`,
      [consumer, messageId],
    )
    return rows.length > 0
  },

  async deleteOlderThan(connection, table, consumer, olderThanMs, limit) {
    const { affectedRows } = await connection.query(
      `DELETE FROM ${quoteTableName(table, '`')} WHERE consumer = ? AND received_at < CURRENT_TIMESTAMP(6) - INTERVAL ? MICROSECOND ORDER BY received_at LIMIT ?`,
      [consumer, Math.round(olderThanMs * 1000), limit],
    )
    return affectedRows
  },
}
