import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import {
  type ListedMessage,
  type OutboxCounts,
  type OutboxState,
  type OutboxTables,
  outboxTables,
} from '../dialect/outbox-store-dialect.js'
import { BrokerSetupError } from '../errors/broker-setup-error.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { outboxStoreOf } from './relay-options.js'

/** What the outbox functions take besides the database. */
export interface OutboxTableOption {
  /** The outbox table, or `schema.table` (default `txkit_outbox`). */
  readonly table?: string
}

/** Which messages `listOutbox` shows. */
export interface ListOutboxOptions extends OutboxTableOption {
  readonly state?: OutboxState
  readonly id?: string
  /** At most this many, oldest first (default 100). */
  readonly limit?: number
}

/** Which dead messages `replayOutbox` makes pending again: `ids`, or `all`. */
export interface ReplayOutboxOptions extends OutboxTableOption {
  readonly ids?: readonly string[]
  readonly all?: boolean
}

/** What `collectOutboxGarbage` keeps. */
export interface OutboxGarbageOptions extends OutboxTableOption {
  /** Delivered messages published, and key rows untouched, longer ago than this (ms) go. */
  readonly retention: number
  /** Rows deleted per statement (default 1000). */
  readonly batchSize?: number
}

/** What garbage collection deleted. */
export interface OutboxGarbage {
  readonly deleted: number
  readonly keysDeleted: number
}

const STATES = new Set<OutboxState>(['pending', 'delivered', 'dead'])

/**
 * Checks that `database` has the outbox tables with every column the relay needs.
 *
 * @throws BrokerSetupError naming what is missing, and how to create the tables.
 * @example
 * ```ts
 * await checkOutboxTables(orders, outboxTables())
 * ```
 */
export async function checkOutboxTables(database: Database, tables: OutboxTables): Promise<void> {
  const store = outboxStoreOf(database)
  const missing = await withConnection(database, (connection) =>
    store.missingColumns(connection, tables),
  )
  if (missing.length > 0) {
    throw new BrokerSetupError(
      `Database "${database.name}" has no usable outbox: missing ${missing.join(', ')}. Create the tables with createOutboxTables() or txkit init --outbox (and name the same table as the writers).`,
    )
  }
}

function tablesOf(database: Database, options: object, allowed: string[], where: string) {
  assertDatabase(database, where)
  checkOptionNames(options, new Set(['table', ...allowed]), where)
  return {
    store: outboxStoreOf(database),
    tables: outboxTables((options as OutboxTableOption).table),
  }
}

/**
 * The outbox's messages counted by state, and the age of the oldest pending one.
 *
 * @example
 * ```ts
 * const { pending, dead, oldestPendingAgeMs } = await outboxCounts(orders)
 * ```
 */
export async function outboxCounts(
  database: Database,
  options: OutboxTableOption = {},
): Promise<OutboxCounts> {
  const { store, tables } = tablesOf(database, options, [], 'outboxCounts()')
  return withConnection(database, (connection) => store.counts(connection, tables))
}

/**
 * The outbox's messages (without their bodies), oldest first.
 *
 * @example
 * ```ts
 * const dead = await listOutbox(orders, { state: 'dead', limit: 20 })
 * ```
 */
export async function listOutbox(
  database: Database,
  options: ListOutboxOptions = {},
): Promise<ListedMessage[]> {
  const { store, tables } = tablesOf(database, options, ['state', 'id', 'limit'], 'listOutbox()')
  if (options.state !== undefined && !STATES.has(options.state)) {
    throw new ConfigurationError(
      `listOutbox() state is pending, delivered or dead, not ${describeValue(options.state)}.`,
    )
  }
  const limit = options.limit ?? 100
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new ConfigurationError(
      `listOutbox() limit is a positive whole number, not ${describeValue(limit)}.`,
    )
  }
  return withConnection(database, (connection) =>
    store.list(connection, tables, {
      limit,
      ...(options.state !== undefined && { state: options.state }),
      ...(options.id !== undefined && { id: options.id }),
    }),
  )
}

/**
 * Makes dead messages pending again, their tries reset: those of `ids`, or every one with
 * `all: true`. Answers how many. A relay publishes them in its next passes.
 *
 * @example
 * ```ts
 * await replayOutbox(orders, { ids: ['0192f4c1-7b2e-7c3a-9d1e-5f2a8b6c4d3e'] })
 * ```
 */
export async function replayOutbox(
  database: Database,
  options: ReplayOutboxOptions,
): Promise<number> {
  const { store, tables } = tablesOf(database, options, ['ids', 'all'], 'replayOutbox()')
  if ((options.ids === undefined) === (options.all !== true)) {
    throw new ConfigurationError('replayOutbox() takes either ids: [...] or all: true.')
  }
  return withConnection(database, (connection) => store.replay(connection, tables, options.ids))
}

/**
 * Deletes delivered messages published more than `retention` ms ago, and key rows with no
 * pending message untouched as long, a bounded batch per statement, each statement in its own
 * short transaction. Dead messages stay (replay or inspect them).
 *
 * @example
 * ```ts
 * await collectOutboxGarbage(orders, { retention: 7 * 24 * 3600_000 })
 * ```
 */
export async function collectOutboxGarbage(
  database: Database,
  options: OutboxGarbageOptions,
): Promise<OutboxGarbage> {
  const { store, tables } = tablesOf(
    database,
    options,
    ['retention', 'batchSize'],
    'collectOutboxGarbage()',
  )
  const { retention } = options
  const batch = options.batchSize ?? 1000
  if (
    !Number.isSafeInteger(retention) ||
    retention < 0 ||
    !Number.isSafeInteger(batch) ||
    batch < 1
  ) {
    throw new ConfigurationError(
      'collectOutboxGarbage() takes retention (ms, at least 0) and batchSize (at least 1) as whole numbers.',
    )
  }
  return withConnection(database, async (connection) => {
    const inTransaction = async (work: () => Promise<number>): Promise<number> => {
      await store.begin(connection)
      try {
        const done = await work()
        await store.commit(connection)
        return done
      } catch (error) {
        await store.rollback(connection).catch(() => undefined)
        throw error
      }
    }
    let deleted = 0
    let keysDeleted = 0
    for (;;) {
      const done = await inTransaction(() =>
        store.deleteDelivered(connection, tables, retention, batch),
      )
      deleted += done
      if (done < batch) break
    }
    const deleteIdleKeys = store.deleteIdleKeys?.bind(store)
    for (; deleteIdleKeys !== undefined; ) {
      const done = await inTransaction(() => deleteIdleKeys(connection, tables, retention, batch))
      keysDeleted += done
      if (done < batch) break
    }
    return { deleted, keysDeleted }
  })
}
