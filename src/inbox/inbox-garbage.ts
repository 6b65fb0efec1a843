import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { InboxDialect } from '../dialect/inbox-dialect.js'
import type { TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'

/** What `inbox.collectGarbage` takes. */
export interface InboxGarbageOptions {
  /**
   * Records of messages received longer ago than this go (ms, by the database's clock; default
   * 7 days). It must exceed the broker's redelivery window and the sender's relay retry span: a
   * message delivered again after its record went is applied again.
   */
  readonly olderThan?: number
  /** Rows deleted per statement (default 1000), so no statement holds many locks for long. */
  readonly batchSize?: number
  /** Stops between batches. */
  readonly signal?: AbortSignal
}

/** What a garbage collection did. */
export interface InboxGarbageCollection {
  /** Records deleted. */
  readonly deleted: number
  /** Statements run. */
  readonly batches: number
}

export const DEFAULT_INBOX_RETENTION = 7 * 24 * 3600_000
const DEFAULT_BATCH_SIZE = 1000
const GARBAGE_OPTIONS = new Set(['olderThan', 'batchSize', 'signal'])

/**
 * Deletes `consumer`'s inbox records older than the retention, batch by batch, until a batch finds
 * fewer rows than its size (or `signal` aborts).
 *
 * @throws ConfigurationError for an unknown option or a retention or batch size out of range.
 * @example
 * ```ts
 * await collectInboxGarbage(orders, orders.dialect.inbox!, { name: 'txkit_inbox' }, 'shipping', {})
 * ```
 */
export async function collectInboxGarbage(
  database: Database,
  dialect: InboxDialect,
  table: TableName,
  consumer: string,
  options: InboxGarbageOptions,
): Promise<InboxGarbageCollection> {
  checkOptionNames(options, GARBAGE_OPTIONS, 'inbox.collectGarbage()')
  const olderThan = options.olderThan ?? DEFAULT_INBOX_RETENTION
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
  if (typeof olderThan !== 'number' || !Number.isFinite(olderThan) || olderThan <= 0) {
    throw new ConfigurationError(
      `olderThan is the retention in ms, more than 0 (and more than the broker's redelivery window), not ${describeValue(olderThan)}.`,
    )
  }
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) {
    throw new ConfigurationError(
      `batchSize is a whole number of rows from 1 to 100000, not ${describeValue(batchSize)}.`,
    )
  }
  let deleted = 0
  let batches = 0
  for (;;) {
    if (options.signal?.aborted) break
    const count = await withConnection(database, (connection) =>
      dialect.deleteOlderThan(connection, table, consumer, olderThan, batchSize),
    )
    deleted += count
    batches += 1
    if (count < batchSize) break
  }
  return { deleted, batches }
}
