import type { OutboxDialect, OutboxRow } from '../dialect/outbox-dialect.js'
import type { OutboxTables } from '../dialect/outbox-store-dialect.js'
import { quoteTableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { MessageRefusedError } from '../errors/message-refused-error.js'
import { sqlState, UNIQUE_VIOLATION } from './postgres-error-codes.js'

/**
 * PostgreSQL's outbox. A transaction's messages go in one statement, however many: the key rows
 * are locked and advanced first (the outbox insert reads their new sequence, so it waits for the
 * lock). Relays are notified after the commit (protocol/run-outbox.ts says why not inside it).
 */
export const postgresOutbox: OutboxDialect = {
  wakes: true,

  async createTables(connection, tables) {
    await connection.query(this.tablesSql(tables).join(';\n'))
  },

  tablesSql({ table, keyTable }) {
    const name = quoteTableName(table, '"')
    const index = (suffix: string) => `"${table.name}_${suffix}"`
    return [
      ...(table.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${table.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${name} (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id varchar(128) NOT NULL UNIQUE,
  destination varchar(200) NOT NULL,
  message_key varchar(255),
  key_seq bigint,
  headers text NOT NULL,
  body bytea NOT NULL,
  content_type varchar(100) NOT NULL,
  gtrid varchar(64),
  created_at timestamptz NOT NULL DEFAULT now(),
  state char(1) NOT NULL DEFAULT 'P' CHECK (state IN ('P', 'D', 'X')),
  attempts integer NOT NULL DEFAULT 0,
  available_at timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz,
  last_error varchar(1000)
)`,
      `CREATE INDEX IF NOT EXISTS ${index('pending')} ON ${name} (position) WHERE state = 'P'`,
      `CREATE INDEX IF NOT EXISTS ${index('by_key')} ON ${name} (message_key, key_seq) WHERE state = 'P' AND message_key IS NOT NULL`,
      // Delivered rows only: a message enters it when the relay marks it, never at commit.
      `CREATE INDEX IF NOT EXISTS ${index('done')} ON ${name} (published_at) WHERE state = 'D'`,
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(keyTable, '"')} (
  message_key varchar(255) PRIMARY KEY,
  seq bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
)`,
    ]
  },

  async insert(connection, tables, rows, gtrid) {
    try {
      const [only] = rows
      if (rows.length === 1 && only !== undefined) await insertOne(connection, tables, only, gtrid)
      else await insertMany(connection, tables, rows, gtrid)
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION) {
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

function base64(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64')
}

/** The usual case, one message: a plain INSERT (after its key's row, under its lock). */
async function insertOne(
  connection: DriverConnection,
  tables: OutboxTables,
  row: OutboxRow,
  gtrid: string,
): Promise<void> {
  const table = quoteTableName(tables.table, '"')
  const params = [row.id, row.destination, row.headers, base64(row.body), row.contentType, gtrid]
  if (row.key === null) {
    await connection.query(
      `INSERT INTO ${table} (id, destination, headers, body, content_type, gtrid) VALUES ($1, $2, $3, decode($4, 'base64'), $5, $6)`,
      params,
    )
    return
  }
  await connection.query(
    `WITH k AS (
  INSERT INTO ${quoteTableName(tables.keyTable, '"')} AS current (message_key, seq) VALUES ($7, 1)
  ON CONFLICT (message_key) DO UPDATE SET seq = current.seq + 1, updated_at = now()
  RETURNING seq
)
INSERT INTO ${table} (id, destination, message_key, key_seq, headers, body, content_type, gtrid)
SELECT $1, $2, $7, k.seq, $3, decode($4, 'base64'), $5, $6 FROM k`,
    [...params, row.key],
  )
}

/**
 * Several messages in one statement, however many; their keys locked in one order, so that two
 * transactions sending the same keys never deadlock.
 */
async function insertMany(
  connection: DriverConnection,
  tables: OutboxTables,
  rows: readonly OutboxRow[],
  gtrid: string,
): Promise<void> {
  {
    const messages = rows.map((row, ord) => ({
      ord,
      id: row.id,
      destination: row.destination,
      message_key: row.key,
      headers: row.headers,
      body: base64(row.body),
      content_type: row.contentType,
    }))
    const keyed = rows.some((row) => row.key !== null)
    const keys = quoteTableName(tables.keyTable, '"')
    const sql = `WITH m AS (
  SELECT * FROM jsonb_to_recordset($1::text::jsonb) AS m(ord int, id text, destination text, message_key text, headers text, body text, content_type text)
)${
      keyed
        ? `, k AS (
  INSERT INTO ${keys} AS current (message_key, seq)
  SELECT message_key, count(*) FROM m WHERE message_key IS NOT NULL GROUP BY message_key ORDER BY message_key
  ON CONFLICT (message_key) DO UPDATE SET seq = current.seq + excluded.seq, updated_at = now()
  RETURNING message_key, seq
)`
        : ''
    }
INSERT INTO ${quoteTableName(tables.table, '"')} (id, destination, message_key, key_seq, headers, body, content_type, gtrid)
SELECT m.id, m.destination, m.message_key, ${
      keyed
        ? 'CASE WHEN m.message_key IS NULL THEN NULL ELSE k.seq - count(*) OVER (PARTITION BY m.message_key) + row_number() OVER (PARTITION BY m.message_key ORDER BY m.ord) END'
        : 'NULL::bigint'
    }, m.headers, decode(m.body, 'base64'), m.content_type, $2
FROM m${keyed ? ' LEFT JOIN k ON k.message_key = m.message_key' : ''}
ORDER BY m.ord`
    await connection.query(sql, [JSON.stringify(messages), gtrid])
  }
}
