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

const AGE = (column: string) => `(extract(epoch FROM clock_timestamp() - ${column}) * 1000)::float8`

/**
 * PostgreSQL's side of the relay: claims with `FOR UPDATE SKIP LOCKED` in a read committed
 * transaction, so that relays running at once never hold the same row and each statement sees the
 * latest commits.
 */
export const postgresOutboxStore: OutboxStoreDialect = {
  defaultParallelBatches: 2,
  async begin(connection) {
    await connection.query('BEGIN ISOLATION LEVEL READ COMMITTED')
  },

  async commit(connection) {
    await connection.query('COMMIT')
  },

  async rollback(connection) {
    await connection.query('ROLLBACK')
  },

  async claim(connection, { table }, limit, more) {
    const { rows } = await connection.query<ClaimRow>(
      `SELECT m.position::text AS position, m.id, m.destination, m.message_key, m.key_seq::text AS key_seq,
  m.headers, m.body, m.content_type, m.attempts, ${AGE('m.created_at')} AS age_ms
FROM ${quoteTableName(table, '"')} m
WHERE m.state = 'P' AND m.available_at <= clock_timestamp()${
        more === undefined
          ? ''
          : `
  AND m.position > $2::bigint AND (m.message_key IS NULL OR NOT (m.message_key = ANY($3::text[])))`
      }
ORDER BY m.position
LIMIT $1
FOR UPDATE OF m SKIP LOCKED`,
      more === undefined ? [limit] : [limit, more.after, more.skipKeys],
    )
    return rows.map(claimedMessage)
  },

  async lowestPending(connection, { table }, keys) {
    const lowest = new Map<string, number>()
    if (keys.length === 0) return lowest
    // One index probe per key (the partial index on pending rows), never a scan of its rows.
    const { rows } = await connection.query<{ message_key: string; seq: string | null }>(
      `SELECT k.message_key, (SELECT min(m.key_seq) FROM ${quoteTableName(table, '"')} m
  WHERE m.state = 'P' AND m.message_key = k.message_key)::text AS seq
FROM unnest($1::text[]) AS k(message_key)`,
      [keys],
    )
    for (const row of rows) if (row.seq !== null) lowest.set(row.message_key, Number(row.seq))
    return lowest
  },

  async markPublished(connection, { table }, positions) {
    if (positions.length === 0) return
    await connection.query(
      `UPDATE ${quoteTableName(table, '"')} SET state = 'D', attempts = attempts + 1,
  published_at = clock_timestamp(), last_error = NULL WHERE position = ANY($1::bigint[])`,
      [positions],
    )
  },

  async markFailed(connection, { table }, position, error, delayMs) {
    await connection.query(
      `UPDATE ${quoteTableName(table, '"')} SET attempts = attempts + 1, last_error = $2,
  available_at = clock_timestamp() + make_interval(secs => $3::float8 / 1000) WHERE position = $1::bigint`,
      [position, error.slice(0, 1000), delayMs],
    )
  },

  async markDead(connection, { table }, position, reason) {
    await connection.query(
      `UPDATE ${quoteTableName(table, '"')} SET state = 'X', attempts = attempts + 1, last_error = $2,
  published_at = clock_timestamp() WHERE position = $1::bigint`,
      [position, reason.slice(0, 1000)],
    )
  },

  async list(connection, { table }, filter) {
    const where: string[] = []
    const params: unknown[] = []
    if (filter.state !== undefined) {
      params.push(STATE_LETTERS[filter.state])
      where.push(`state = $${params.length}`)
    }
    if (filter.id !== undefined) {
      params.push(filter.id)
      where.push(`id = $${params.length}`)
    }
    params.push(filter.limit)
    const { rows } = await connection.query<ListRow>(
      `SELECT position::text AS position, id, destination, message_key, key_seq::text AS key_seq, state,
  attempts, octet_length(body) AS body_bytes, ${AGE('created_at')} AS age_ms, last_error
FROM ${quoteTableName(table, '"')}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''}
ORDER BY position LIMIT $${params.length}`,
      params,
    )
    return rows.map(listedMessage)
  },

  async counts(connection, { table }) {
    const { rows } = await connection.query<{ state: string; n: string; oldest: number | null }>(
      `SELECT state, count(*)::text AS n,
  CASE WHEN state = 'P' THEN ${AGE('min(created_at)')} END AS oldest
FROM ${quoteTableName(table, '"')} GROUP BY state`,
    )
    const count = (letter: string) => Number(rows.find((row) => row.state === letter)?.n ?? 0)
    const oldest = rows.find((row) => row.state === 'P')?.oldest
    return {
      pending: count('P'),
      delivered: count('D'),
      dead: count('X'),
      oldestPendingAgeMs: oldest == null ? 0 : Math.max(0, Number(oldest)),
    }
  },

  async replay(connection, { table }, ids) {
    const { affectedRows } = await connection.query(
      `UPDATE ${quoteTableName(table, '"')} SET state = 'P', attempts = 0, last_error = NULL,
  available_at = clock_timestamp(), published_at = NULL
WHERE state = 'X'${ids === undefined ? '' : ' AND id = ANY($1::text[])'}`,
      ids === undefined ? [] : [ids],
    )
    return affectedRows
  },

  async deleteDelivered(connection, { table }, retentionMs, limit) {
    const name = quoteTableName(table, '"')
    const { affectedRows } = await connection.query(
      `DELETE FROM ${name} WHERE position IN (
  SELECT position FROM ${name} WHERE state = 'D'
    AND published_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
  ORDER BY position LIMIT $2)`,
      [retentionMs, limit],
    )
    return affectedRows
  },

  async deleteIdleKeys(connection, { table, keyTable }, retentionMs, limit) {
    const keys = quoteTableName(keyTable, '"')
    // The age is checked again on the row as it is when deleted: a sender that just advanced the
    // key (holding its row until it commits) makes it young, and it stays.
    const { affectedRows } = await connection.query(
      `DELETE FROM ${keys} WHERE message_key IN (
  SELECT k.message_key FROM ${keys} k
  WHERE k.updated_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
    AND NOT EXISTS (SELECT 1 FROM ${quoteTableName(table, '"')} m WHERE m.state = 'P' AND m.message_key = k.message_key)
  LIMIT $2)
AND updated_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)`,
      [retentionMs, limit],
    )
    return affectedRows
  },

  async missingColumns(connection, tables) {
    const { rows } = await connection.query<{ table_name: string; column_name: string }>(
      `SELECT table_name, column_name FROM information_schema.columns
WHERE table_schema = coalesce($1, current_schema()) AND table_name IN ($2, $3)`,
      [tables.table.schema ?? null, tables.table.name, tables.keyTable.name],
    )
    const found = new Map<string, Set<string>>()
    for (const row of rows) {
      const columns = found.get(row.table_name) ?? new Set<string>()
      columns.add(row.column_name)
      found.set(row.table_name, columns)
    }
    return missingOf(tables, found)
  },
}
