import {
  type ClaimRow,
  claimedMessage,
  type ListRow,
  listedMessage,
  missingOf,
  type OutboxStoreDialect,
  STATE_LETTERS,
} from '../dialect/outbox-store-dialect.js'
import { quoteTableName } from '../dialect/table-name.js'

const AGE = (column: string) => `TIMESTAMPDIFF(MICROSECOND, ${column}, NOW(6)) / 1000`

/** A whole number for a LIMIT, written into the statement (checked: nothing else gets in). */
function count(limit: number): string {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`Bad limit ${limit}.`)
  return String(limit)
}

const marks = (values: readonly unknown[]) => values.map(() => '?').join(', ')

/**
 * MySQL's and MariaDB's side of the relay: `FOR UPDATE SKIP LOCKED` (MySQL 8, MariaDB 10.6) in a
 * read committed transaction, whose plain reads see the latest commits and lock nothing.
 */
export const mysqlOutboxStore: OutboxStoreDialect = {
  defaultParallelBatches: 1,
  async begin(connection) {
    await connection.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED')
    await connection.query('START TRANSACTION')
  },

  async commit(connection) {
    await connection.query('COMMIT')
  },

  async rollback(connection) {
    await connection.query('ROLLBACK')
  },

  async claim(connection, { table }, limit, more) {
    const skip = more?.skipKeys ?? []
    const { rows } = await connection.query<ClaimRow>(
      `SELECT CAST(m.position AS CHAR) AS position, m.id, m.destination, m.message_key,
  CAST(m.key_seq AS CHAR) AS key_seq, m.headers, m.body, m.content_type, m.attempts, ${AGE('m.created_at')} AS age_ms
FROM ${quoteTableName(table, '`')} m
WHERE m.state = 'P' AND m.available_at <= NOW(6)${more === undefined ? '' : ' AND m.position > ?'}${
        skip.length === 0
          ? ''
          : ` AND (m.message_key IS NULL OR m.message_key NOT IN (${marks(skip)}))`
      }
ORDER BY m.position
LIMIT ${count(limit)}
FOR UPDATE SKIP LOCKED`,
      more === undefined ? [] : [more.after, ...skip],
    )
    if (rows.length === 0) return []
    // A SKIP LOCKED scan of the state index can lock a row that another batch marked and
    // committed an instant before (seen: the same message claimed by two relays' batches). Read
    // the claimed rows again by primary key, our locks held: what is still pending is ours alone.
    const { rows: pending } = await connection.query<{ position: string }>(
      `SELECT CAST(position AS CHAR) AS position FROM ${quoteTableName(table, '`')} WHERE state = 'P' AND position IN (${marks(rows)})`,
      rows.map((row) => row.position),
    )
    const still = new Set(pending.map((row) => String(row.position)))
    return rows.filter((row) => still.has(String(row.position))).map(claimedMessage)
  },

  async lowestPending(connection, { table }, keys) {
    const lowest = new Map<string, number>()
    if (keys.length === 0) return lowest
    // Per key, the first pending row in its (message_key, key_seq) index order.
    const name = quoteTableName(table, '`')
    const { rows } = await connection.query<{ message_key: string; seq: string | null }>(
      `SELECT k.message_key, CAST((SELECT m.key_seq FROM ${name} m
  WHERE m.message_key = k.message_key AND m.state = 'P' ORDER BY m.key_seq LIMIT 1) AS CHAR) AS seq
FROM (${keys.map(() => 'SELECT ? AS message_key').join(' UNION ALL ')}) AS k`,
      keys,
    )
    for (const row of rows) if (row.seq !== null) lowest.set(row.message_key, Number(row.seq))
    return lowest
  },

  async markPublished(connection, { table }, positions) {
    if (positions.length === 0) return
    await connection.query(
      `UPDATE ${quoteTableName(table, '`')} SET state = 'D', attempts = attempts + 1,
  published_at = NOW(6), last_error = NULL WHERE position IN (${marks(positions)})`,
      positions,
    )
  },

  async markFailed(connection, { table }, position, error, delayMs) {
    await connection.query(
      `UPDATE ${quoteTableName(table, '`')} SET attempts = attempts + 1, last_error = ?,
  available_at = NOW(6) + INTERVAL ? MICROSECOND WHERE position = ?`,
      [error.slice(0, 1000), Math.round(delayMs * 1000), position],
    )
  },

  async markDead(connection, { table }, position, reason) {
    await connection.query(
      `UPDATE ${quoteTableName(table, '`')} SET state = 'X', attempts = attempts + 1, last_error = ?,
  published_at = NOW(6) WHERE position = ?`,
      [reason.slice(0, 1000), position],
    )
  },

  async list(connection, { table }, filter) {
    const where: string[] = []
    const params: unknown[] = []
    if (filter.state !== undefined) {
      where.push('state = ?')
      params.push(STATE_LETTERS[filter.state])
    }
    if (filter.id !== undefined) {
      where.push('id = ?')
      params.push(filter.id)
    }
    const { rows } = await connection.query<ListRow>(
      `SELECT CAST(position AS CHAR) AS position, id, destination, message_key,
  CAST(key_seq AS CHAR) AS key_seq, state, attempts, LENGTH(body) AS body_bytes,
  ${AGE('created_at')} AS age_ms, last_error
FROM ${quoteTableName(table, '`')}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
ORDER BY position LIMIT ${count(filter.limit)}`,
      params,
    )
    return rows.map(listedMessage)
  },

  async counts(connection, { table }) {
    const { rows } = await connection.query<{
      state: string
      n: number | string
      oldest: number | string | null
    }>(
      `SELECT state, COUNT(*) AS n, CASE WHEN state = 'P' THEN ${AGE('MIN(created_at)')} END AS oldest
FROM ${quoteTableName(table, '`')} GROUP BY state`,
    )
    const number = (letter: string) => Number(rows.find((row) => row.state === letter)?.n ?? 0)
    const oldest = rows.find((row) => row.state === 'P')?.oldest
    return {
      pending: number('P'),
      delivered: number('D'),
      dead: number('X'),
      oldestPendingAgeMs: oldest == null ? 0 : Math.max(0, Number(oldest)),
    }
  },

  async replay(connection, { table }, ids) {
    if (ids !== undefined && ids.length === 0) return 0
    const { affectedRows } = await connection.query(
      `UPDATE ${quoteTableName(table, '`')} SET state = 'P', attempts = 0, last_error = NULL,
  available_at = NOW(6), published_at = NULL
WHERE state = 'X'${ids === undefined ? '' : ` AND id IN (${marks(ids)})`}`,
      ids ?? [],
    )
    return affectedRows
  },

  async deleteDelivered(connection, { table }, retentionMs, limit) {
    const { affectedRows } = await connection.query(
      `DELETE FROM ${quoteTableName(table, '`')}
WHERE state = 'D' AND published_at < NOW(6) - INTERVAL ? MICROSECOND
ORDER BY position LIMIT ${count(limit)}`,
      [Math.round(retentionMs * 1000)],
    )
    return affectedRows
  },

  async deleteIdleKeys(connection, { table, keyTable }, retentionMs, limit) {
    const { affectedRows } = await connection.query(
      `DELETE FROM ${quoteTableName(keyTable, '`')}
WHERE updated_at < NOW(6) - INTERVAL ? MICROSECOND
  AND NOT EXISTS (SELECT 1 FROM ${quoteTableName(table, '`')} m
    WHERE m.message_key = ${quoteTableName(keyTable, '`')}.message_key AND m.state = 'P')
LIMIT ${count(limit)}`,
      [Math.round(retentionMs * 1000)],
    )
    return affectedRows
  },

  async missingColumns(connection, tables) {
    const { rows } = await connection.query<{ table_name: string; column_name: string }>(
      `SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME IN (?, ?)`,
      [tables.table.schema ?? null, tables.table.name, tables.keyTable.name],
    )
    const found = new Map<string, Set<string>>()
    for (const row of rows) {
      const columns = found.get(row.table_name) ?? new Set<string>()
      columns.add(row.column_name.toLowerCase())
      found.set(row.table_name, columns)
    }
    return missingOf(tables, found)
  },
}
