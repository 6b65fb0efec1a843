import type { OutboxDialect } from '../dialect/outbox-dialect.js'
import { quoteTableName } from '../dialect/table-name.js'
import { MessageRefusedError } from '../errors/message-refused-error.js'
import { ER_DUP_ENTRY, errno } from './mysql-error-codes.js'

/**
 * MySQL's and MariaDB's outbox. Keyed messages first lock and advance their keys' rows, then read
 * the new sequences (their own, under the lock); then every message goes in one INSERT. No
 * notifications here: relays poll, adaptively (docs/outbox.md).
 */
export const mysqlOutbox: OutboxDialect = {
  keyTable: true,

  wakes: false,

  async createTables(connection, tables) {
    for (const statement of this.tablesSql(tables)) await connection.query(statement)
  },

  tablesSql({ table, keyTable }) {
    const index = (suffix: string) => `\`${table.name}_${suffix}\``
    return [
      ...(table.schema === undefined ? [] : [`CREATE DATABASE IF NOT EXISTS \`${table.schema}\``]),
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '`')} (
  position BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  id VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  destination VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  message_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
  key_seq BIGINT NULL,
  headers MEDIUMTEXT CHARACTER SET utf8mb4 NOT NULL,
  body LONGBLOB NOT NULL,
  content_type VARCHAR(100) CHARACTER SET ascii NOT NULL,
  gtrid VARCHAR(64) CHARACTER SET ascii NULL,
  created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  state CHAR(1) CHARACTER SET ascii NOT NULL DEFAULT 'P',
  attempts INT NOT NULL DEFAULT 0,
  available_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  published_at DATETIME(6) NULL,
  last_error VARCHAR(1000) CHARACTER SET utf8mb4 NULL,
  UNIQUE KEY ${index('id')} (id),
  KEY ${index('pending')} (state, position),
  KEY ${index('by_key')} (message_key, key_seq),
  KEY ${index('done')} (state, published_at)
) ENGINE=InnoDB`,
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(keyTable, '`')} (
  message_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
  seq BIGINT NOT NULL,
  updated_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB`,
    ]
  },

  async insert(connection, tables, rows, gtrid) {
    const counts = new Map<string, number>()
    for (const row of rows) {
      if (row.key !== null) counts.set(row.key, (counts.get(row.key) ?? 0) + 1)
    }
    const next = new Map<string, number>()
    if (counts.size > 0) {
      const keys = quoteTableName(tables.keyTable, '`')
      // Every transaction locks its keys in one order: two sending the same keys never deadlock.
      const entries = [...counts].sort(([a], [b]) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
      await connection.query(
        `INSERT INTO ${keys} (message_key, seq) VALUES ${entries.map(() => '(?, ?)').join(', ')} ON DUPLICATE KEY UPDATE seq = seq + VALUES(seq), updated_at = CURRENT_TIMESTAMP(6)`,
        entries.flat(),
      )
      // Under the row locks just taken, so the sequences are ours alone until the commit.
      const { rows: found } = await connection.query<{ message_key: string; seq: number | string }>(
        `SELECT message_key, seq FROM ${keys} WHERE message_key IN (${entries.map(() => '?').join(', ')})`,
        entries.map(([key]) => key),
      )
      for (const { message_key, seq } of found) {
        next.set(message_key, Number(seq) - (counts.get(message_key) ?? 0) + 1)
      }
    }
    const values: unknown[] = []
    for (const row of rows) {
      let seq: number | null = null
      if (row.key !== null) {
        seq = next.get(row.key) ?? null
        next.set(row.key, (seq ?? 0) + 1)
      }
      values.push(
        row.id,
        row.destination,
        row.key,
        seq,
        row.headers,
        Buffer.from(row.body.buffer, row.body.byteOffset, row.body.byteLength),
        row.contentType,
        gtrid,
      )
    }
    try {
      await connection.query(
        `INSERT INTO ${quoteTableName(tables.table, '`')} (id, destination, message_key, key_seq, headers, body, content_type, gtrid) VALUES ${rows.map(() => '(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        values,
      )
    } catch (error) {
      if (errno(error) === ER_DUP_ENTRY) {
        throw new MessageRefusedError(
          'duplicate-id',
          'A message id of this transaction is already in the outbox: each message needs an id of its own.',
          { cause: error },
        )
      }
      throw error
    }
  },
}
