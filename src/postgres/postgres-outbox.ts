import type { OutboxDialect, OutboxRow } from '../dialect/outbox-dialect.js'
import type { OutboxTables } from '../dialect/outbox-store-dialect.js'
import { quoteTableName } from '../dialect/table-name.js'
import { MessageRefusedError } from '../errors/message-refused-error.js'
import { sqlState, UNIQUE_VIOLATION } from './postgres-error-codes.js'
import { textLiteral } from './postgres-text-literal.js'

/**
 * The class of the transaction-level advisory locks that make one key's messages take turns
 * (`pg_advisory_xact_lock(class, hashtext(key))`): "txko". Two keys that hash alike only share
 * turns.
 */
const KEY_LOCK_CLASS = 0x74786b6f

/**
 * PostgreSQL's outbox. A transaction's messages go in one statement, however many. A keyed message
 * first takes its key's transaction-level advisory lock, held until the transaction ends, and only
 * then its position from the identity: so one key's messages are numbered in commit order, and a
 * key costs no row of its own (docs/outbox.md, "Order per key"). On the branch that commits in one
 * step the statement rides in the COMMIT's message. Relays are notified after the commit
 * (protocol/run-outbox.ts says why not inside it).
 */
export const postgresOutbox: OutboxDialect = {
  keyTable: false,
  wakes: true,

  async createTables(connection, tables) {
    await connection.query(this.tablesSql(tables).join(';\n'))
  },

  tablesSql({ table }) {
    const name = quoteTableName(table, '"')
    const index = (suffix: string) => `"${table.name}_${suffix}"`
    // Ids and keys are compared byte by byte (COLLATE "C"): cheaper than a language's collation,
    // and the same order and equality on every server.
    return [
      ...(table.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${table.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${name} (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id varchar(128) COLLATE "C" NOT NULL UNIQUE,
  destination varchar(200) NOT NULL,
  message_key varchar(255) COLLATE "C",
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
      `CREATE INDEX IF NOT EXISTS ${index('by_key')} ON ${name} (message_key, position) WHERE state = 'P' AND message_key IS NOT NULL`,
      // Delivered rows only: a message enters it when the relay marks it, never at commit.
      `CREATE INDEX IF NOT EXISTS ${index('done')} ON ${name} (published_at) WHERE state = 'D'`,
    ]
  },

  async insert(connection, tables, rows, gtrid) {
    try {
      await connection.query(insertStatement(tables, rows, gtrid))
    } catch (error) {
      throw duplicateId(error, tables) ?? error
    }
  },

  insertStatement,

  refusal: duplicateId,
}

/**
 * The messages' insert, one statement however many, with its values written in as literals: it
 * then travels in a simple-protocol message of its own or ahead of the COMMIT that carries it.
 * The keys' locks come first, in the order of their lock numbers so that two transactions sending
 * the same keys never deadlock; the rows, and with them their positions, only once all are held.
 */
function insertStatement(tables: OutboxTables, rows: readonly OutboxRow[], gtrid: string): string {
  const table = quoteTableName(tables.table, '"')
  const columns = 'id, destination, message_key, headers, body, content_type, gtrid'
  const [only] = rows
  if (rows.length === 1 && only !== undefined) {
    const values = [
      textLiteral(only.id),
      textLiteral(only.destination),
      only.key === null ? 'NULL' : textLiteral(only.key),
      textLiteral(only.headers),
      `decode('${base64(only.body)}', 'base64')`,
      textLiteral(only.contentType),
      textLiteral(gtrid),
    ].join(', ')
    if (only.key === null) return `INSERT INTO ${table} (${columns}) VALUES (${values})`
    // MATERIALIZED: the lock is taken before the row that reads it is made.
    return `WITH turn AS MATERIALIZED (SELECT pg_advisory_xact_lock(${KEY_LOCK_CLASS}, hashtext(${textLiteral(only.key)})))
INSERT INTO ${table} (${columns}) SELECT ${values} FROM turn`
  }
  const messages = rows.map((row, ord) => ({
    ord,
    id: row.id,
    destination: row.destination,
    message_key: row.key,
    headers: row.headers,
    body: base64(row.body),
    content_type: row.contentType,
  }))
  // Every row joins the one row of `turn`, an aggregate over all the locks: no row, so no
  // position, exists before the last lock is held. Positions follow the ORDER BY.
  return `WITH m AS (
  SELECT * FROM jsonb_to_recordset(${textLiteral(JSON.stringify(messages))}::jsonb) AS m(ord int, id text, destination text, message_key text, headers text, body text, content_type text)
), turn AS MATERIALIZED (
  SELECT count(*) AS locks FROM (
    SELECT pg_advisory_xact_lock(${KEY_LOCK_CLASS}, h) FROM (
      SELECT DISTINCT hashtext(message_key) AS h FROM m WHERE message_key IS NOT NULL ORDER BY h
    ) AS hashes
  ) AS taken
)
INSERT INTO ${table} (${columns})
SELECT m.id, m.destination, m.message_key, m.headers, decode(m.body, 'base64'), m.content_type, ${textLiteral(gtrid)}
FROM m CROSS JOIN turn ORDER BY m.ord`
}

/** The sender's error for a unique violation on the outbox table (its only unique key beyond the position is the id). */
function duplicateId(error: unknown, tables: OutboxTables): MessageRefusedError | undefined {
  if (sqlState(error) !== UNIQUE_VIOLATION || tableOf(error) !== tables.table.name) return undefined
  return new MessageRefusedError(
    'duplicate-id',
    'A message id of this transaction is already in the outbox: each message needs an id of its own.',
    { cause: error },
  )
}

/** The table a constraint error names (node-postgres: `table`; postgres.js: `table_name`). */
function tableOf(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return undefined
  const fields = error as { table?: unknown; table_name?: unknown }
  return fields.table ?? fields.table_name
}

function base64(body: Uint8Array): string {
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64')
}
