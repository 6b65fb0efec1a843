import type { Database } from '../database/database.js'
import { branchPool } from '../manager/branch-pool.js'
import type { RecordKind } from '../manager/record-hooks.js'
import { requireOptions } from '../manager/tool-transaction.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import { checkOptionNames } from '../util/check-option-names.js'

export interface TxkitDrizzleClientOptions<Pool> {
  /** The pool you would give `drizzle()`: a node-postgres `Pool` or a mysql2 promise pool. */
  readonly pool: Pool
  /** The txkit database of that pool (`pgDatabase(pool, …)` or `mysqlDatabase(pool, …)`). */
  readonly database: Database
  /** The transaction manager whose current transaction queries join. */
  readonly manager: TransactionManager
  /** Outside a txkit transaction, refuse (a `TransactionStateError`) instead of using the pool. */
  readonly explicit?: boolean
}

const OPTIONS: ReadonlySet<string> = new Set(['pool', 'database', 'manager', 'explicit'])

/**
 * A client to give `drizzle()` in place of your pool: one application-wide Drizzle db per database,
 * used as Drizzle's docs show. Inside `manager.run(...)` its queries run on the current txkit
 * transaction's branch for the database (joined on first use), and `db.transaction()` there is a
 * savepoint of it (an inner failure undoes only the inner work and its recorded writes; transaction
 * config such as an isolation level is refused); outside a transaction it is your pool, unchanged
 * (or a `TransactionStateError` with `explicit: true`). Works with Drizzle's `node-postgres` driver
 * over a `pgDatabase`, and its `mysql2` driver over a `mysqlDatabase`. Drizzle has no write events:
 * feed record hooks with {@link recordWrites}.
 *
 * @throws ConfigurationError for a missing or unknown option.
 * @example
 * ```ts
 * import { drizzle } from 'drizzle-orm/node-postgres'
 * import pg from 'pg'
 * import { txkitDrizzleClient } from 'txkit/drizzle'
 * import { pgDatabase } from 'txkit/node-postgres'
 *
 * const pool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
 * const orders = pgDatabase(pool, { name: 'orders' })
 * const db = drizzle({ client: txkitDrizzleClient({ pool, database: orders, manager }) })
 * ```
 */
export function txkitDrizzleClient<Pool extends object>(
  options: TxkitDrizzleClientOptions<Pool>,
): Pool {
  checkOptionNames(options ?? {}, OPTIONS, 'txkitDrizzleClient()')
  requireOptions(
    options as unknown as Record<string, unknown>,
    ['pool', 'database', 'manager'],
    'txkitDrizzleClient({ pool, database: pgDatabase(pool, { name }), manager })',
  )
  return branchPool({
    tool: 'Drizzle',
    ...options,
  })
}

/**
 * Records rows a Drizzle write returned (`.returning()`) for the record hooks of the current txkit
 * transaction (`manager.onRecord`): Drizzle has no write events to feed them from. Outside a
 * transaction it records nothing. Answers the rows.
 *
 * @example
 * ```ts
 * const rows = await recordWrites(manager, 'insert', 'orders',
 *   db.insert(ordersTable).values(order).returning())
 * ```
 */
export async function recordWrites<Row>(
  manager: TransactionManager,
  kind: RecordKind,
  table: string,
  rows: Row[] | Promise<Row[]> | PromiseLike<Row[]>,
): Promise<Row[]> {
  const written = await rows
  const transaction = manager.current()
  if (transaction !== undefined && transaction.status === 'active') {
    for (const row of written) transaction.recordWrite(kind, table, row)
  }
  return written
}
