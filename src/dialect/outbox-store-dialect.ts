import type { DriverConnection } from '../driver/driver-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { ClaimRow, ListRow } from './outbox-store-rows.js'
import { parseTableName, type TableName } from './table-name.js'

/** An outbox's tables: the messages, and (MySQL/MariaDB) one row per key, its number and turn lock. */
export interface OutboxTables {
  readonly table: TableName
  readonly keyTable: TableName
}

/**
 * The outbox's two tables for `table` (default `txkit_outbox`).
 *
 * @throws ConfigurationError for a name that is not a plain identifier, or too long.
 * @example
 * ```ts
 * outboxTables('ops.txkit_outbox').keyTable // { schema: 'ops', name: 'txkit_outbox_key' }
 * ```
 */
export function outboxTables(table = 'txkit_outbox'): OutboxTables {
  const parsed = parseTableName(table, 'outbox table')
  if (parsed.name.length > 50) {
    throw new ConfigurationError(
      `The outbox table name "${parsed.name}" is too long: at most 50 characters (its key table and indexes add to it).`,
    )
  }
  return { table: parsed, keyTable: { ...parsed, name: `${parsed.name}_key` } }
}

/** A pending message as a relay claims it, locked by the relay's batch transaction. */
export interface ClaimedMessage {
  /** The row's position (a bigint, as text). */
  readonly position: string
  readonly id: string
  readonly destination: string
  readonly key: string | null
  /**
   * The message's place in its key's order, which is commit order: its number among its key's
   * (1, 2 …) on MySQL/MariaDB, its position on PostgreSQL; null without a key.
   */
  readonly keySeq: number | null
  /** The headers as stored: a JSON object. */
  readonly headers: string
  readonly body: Uint8Array
  readonly contentType: string
  /** Tries before this one. */
  readonly attempts: number
  /** How long ago the message was committed, by the database's clock. */
  readonly ageMs: number
}

/** A batch's second claim: past the first one's rows, without the keys it could not publish. */
export interface ClaimMore {
  readonly after: string
  readonly skipKeys: readonly string[]
}

/** A message as `txkit outbox list` shows it (no body). */
export interface ListedMessage {
  readonly position: string
  readonly id: string
  readonly destination: string
  readonly key: string | null
  readonly keySeq: number | null
  /** `pending`, `delivered` or `dead`. */
  readonly state: OutboxState
  readonly attempts: number
  readonly bodyBytes: number
  readonly ageMs: number
  readonly lastError: string | null
}

/** A message's state: waiting for the relay, published, or dead-lettered. */
export type OutboxState = 'pending' | 'delivered' | 'dead'

/** The outbox's messages counted by state, and the age of the oldest pending one. */
export interface OutboxCounts {
  readonly pending: number
  readonly delivered: number
  readonly dead: number
  /** By the database's clock; 0 when nothing is pending. */
  readonly oldestPendingAgeMs: number
}

/** Which messages a listing shows. */
export interface ListFilter {
  readonly state?: OutboxState
  readonly id?: string
  readonly limit: number
}

/**
 * What a relay and `txkit outbox` do with an outbox's rows: claim pending messages in a batch
 * transaction (skipping rows another relay holds), record what became of them, and the operator's
 * listing, counts, replay and garbage collection. Each method runs on a connection of the
 * database's pool; `claim` … `markDead` inside `begin` … `commit`.
 */
export interface OutboxStoreDialect {
  /**
   * Batches of one database a relay runs at once unless told otherwise (`parallelBatches`): 2
   * where that was measured and raced in tests (PostgreSQL), 1 elsewhere.
   */
  readonly defaultParallelBatches: number
  /** Begins a batch transaction (read committed: each statement sees the latest commits). */
  begin(connection: DriverConnection): Promise<void>
  commit(connection: DriverConnection): Promise<void>
  rollback(connection: DriverConnection): Promise<void>
  /**
   * Locks and returns up to `limit` pending messages whose time has come, oldest first, skipping
   * rows other transactions hold. `more`: a second claim in the same batch, of rows after
   * position `after` whose key is none of `skipKeys` (keys whose turn has not come).
   */
  claim(
    connection: DriverConnection,
    tables: OutboxTables,
    limit: number,
    more?: ClaimMore,
  ): Promise<ClaimedMessage[]>
  /**
   * Each key's pending messages up to `upTo`'s number for it (their `keySeq`, ascending), over
   * every pending row, those other relays hold or that wait for a retry included (a plain read).
   * May answer fewer past the first (MySQL/MariaDB number without gaps, so it answers the run that
   * follows the lowest): a message left out waits for a later batch, never goes out of turn.
   */
  pendingTurns(
    connection: DriverConnection,
    tables: OutboxTables,
    upTo: ReadonlyMap<string, number>,
  ): Promise<Map<string, number[]>>
  markPublished(
    connection: DriverConnection,
    tables: OutboxTables,
    positions: readonly string[],
  ): Promise<void>
  /** One more failed try: `error` kept (at most 1000 characters), retried after `delayMs`. */
  markFailed(
    connection: DriverConnection,
    tables: OutboxTables,
    position: string,
    error: string,
    delayMs: number,
  ): Promise<void>
  markDead(
    connection: DriverConnection,
    tables: OutboxTables,
    position: string,
    reason: string,
  ): Promise<void>
  list(
    connection: DriverConnection,
    tables: OutboxTables,
    filter: ListFilter,
  ): Promise<ListedMessage[]>
  counts(connection: DriverConnection, tables: OutboxTables): Promise<OutboxCounts>
  /**
   * Dead messages back to pending, tries reset: those of `ids`, or every dead one without.
   * Answers how many.
   */
  replay(
    connection: DriverConnection,
    tables: OutboxTables,
    ids: readonly string[] | undefined,
  ): Promise<number>
  /**
   * Deletes up to `limit` delivered messages published more than `retentionMs` ago; answers how
   * many (call again while it answers `limit`).
   */
  deleteDelivered(
    connection: DriverConnection,
    tables: OutboxTables,
    retentionMs: number,
    limit: number,
  ): Promise<number>
  /**
   * Deletes key rows with no pending message, untouched for `retentionMs`; answers how many.
   * Absent where keys have no rows (PostgreSQL).
   */
  deleteIdleKeys?(
    connection: DriverConnection,
    tables: OutboxTables,
    retentionMs: number,
    limit: number,
  ): Promise<number>
  /**
   * What is wrong with the tables: `table.column` for each missing column, `table` for a missing
   * table; empty when both are as the relay needs them.
   */
  missingColumns(connection: DriverConnection, tables: OutboxTables): Promise<string[]>
}

/** The columns a relay reads and writes, by table. */
export const OUTBOX_COLUMNS = [
  'position',
  'id',
  'destination',
  'message_key',
  'key_seq',
  'headers',
  'body',
  'content_type',
  'created_at',
  'state',
  'attempts',
  'available_at',
  'published_at',
  'last_error',
] as const
export const OUTBOX_KEY_COLUMNS = ['message_key', 'seq', 'updated_at'] as const

/** The state letters stored in the outbox's `state` column. */
export const STATE_LETTERS: Readonly<Record<OutboxState, string>> = {
  pending: 'P',
  delivered: 'D',
  dead: 'X',
}

/**
 * `state` column letter → state.
 *
 * @example
 * ```ts
 * stateOfLetter('X') // 'dead'
 * ```
 */
export function stateOfLetter(letter: string): OutboxState {
  return letter === 'D' ? 'delivered' : letter === 'X' ? 'dead' : 'pending'
}

/**
 * What is missing, given the columns found per table.
 *
 * @example
 * ```ts
 * missingOf(tables, new Map([['txkit_outbox', new Set(['position'])]]), false) // ['txkit_outbox.id', …]
 * ```
 */
export function missingOf(
  tables: OutboxTables,
  found: ReadonlyMap<string, ReadonlySet<string>>,
  withKeyTable: boolean,
): string[] {
  const missing: string[] = []
  const wanted: Array<readonly [string, readonly string[]]> = [[tables.table.name, OUTBOX_COLUMNS]]
  if (withKeyTable) wanted.push([tables.keyTable.name, OUTBOX_KEY_COLUMNS])
  for (const [table, columns] of wanted) {
    const have = found.get(table)
    if (have === undefined || have.size === 0) missing.push(table)
    else for (const column of columns) if (!have.has(column)) missing.push(`${table}.${column}`)
  }
  return missing
}

export type { ClaimRow, ListRow } from './outbox-store-rows.js'

/** A claimed row as the relay handles it (drivers answer numbers as numbers or strings). */
export function claimedMessage(row: ClaimRow): ClaimedMessage {
  return {
    position: String(row.position),
    id: row.id,
    destination: row.destination,
    key: row.message_key,
    keySeq: row.key_seq === null ? null : Number(row.key_seq),
    headers: String(row.headers),
    body: row.body,
    contentType: row.content_type,
    attempts: Number(row.attempts),
    ageMs: Math.max(0, Number(row.age_ms)),
  }
}

/** A listed row as `txkit outbox list` shows it. */
export function listedMessage(row: ListRow): ListedMessage {
  return {
    position: String(row.position),
    id: row.id,
    destination: row.destination,
    key: row.message_key,
    keySeq: row.key_seq === null ? null : Number(row.key_seq),
    state: stateOfLetter(row.state),
    attempts: Number(row.attempts),
    bodyBytes: Number(row.body_bytes),
    ageMs: Math.max(0, Number(row.age_ms)),
    lastError: row.last_error,
  }
}
