import type { Database } from '../driver/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { ManagedTransaction } from '../manager/managed-transaction.js'
import type { RecordKind } from '../manager/record-hooks.js'
import { SavepointStatements } from '../manager/savepoint-statements.js'
import { requireOptions, toolTransaction } from '../manager/tool-transaction.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { overriding } from '../util/overriding.js'

/** The part of a node-postgres `Pool` or a mysql2 promise pool Drizzle uses. */
type StatementRunner = Record<string, unknown> & {
  query(...args: unknown[]): Promise<unknown>
}

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

/** The SQL text of a statement as Drizzle hands it to the driver. */
function textOf(first: unknown): string | undefined {
  if (typeof first === 'string') return first
  const config = first as { text?: unknown; sql?: unknown } | null
  if (typeof config?.text === 'string') return config.text
  if (typeof config?.sql === 'string') return config.sql
  return undefined
}

/**
 * The session Drizzle's `db.transaction()` gets inside a txkit transaction: its statements run on
 * the branch; its BEGIN, COMMIT, ROLLBACK and savepoints become savepoints of the txkit transaction.
 */
class SavepointSession {
  readonly #raw: StatementRunner
  readonly #statements: SavepointStatements
  readonly #mysql: boolean

  constructor(raw: StatementRunner, transaction: ManagedTransaction, mysql: boolean) {
    this.#raw = raw
    this.#statements = new SavepointStatements(transaction, 'Drizzle')
    this.#mysql = mysql
  }

  readonly query = (...args: unknown[]): Promise<unknown> => this.#run('query', args)
  readonly execute = (...args: unknown[]): Promise<unknown> => this.#run('execute', args)

  /** The transaction's session is the txkit transaction's: nothing to give back. */
  release(): void {}

  async #run(method: 'query' | 'execute', args: unknown[]): Promise<unknown> {
    const text = textOf(args[0])
    if (text === undefined || !(await this.#statements.handle(text))) {
      const run = this.#raw[method] as (...a: unknown[]) => Promise<unknown>
      return run.apply(this.#raw, args)
    }
    return this.#mysql ? [{ affectedRows: 0 }, undefined] : { rows: [], rowCount: 0, command: '' }
  }
}

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
  const { pool, database, manager } = options
  const mysql = typeof (pool as { getConnection?: unknown }).getConnection === 'function'
  const current = (): ManagedTransaction | undefined =>
    toolTransaction({ tool: 'Drizzle', database, manager, explicit: options.explicit })
  const branchSession = async (transaction: ManagedTransaction): Promise<StatementRunner> => {
    const branch = await transaction.join(database.name, database)
    const raw = branch.connection as StatementRunner | undefined
    if (typeof raw?.query !== 'function') {
      throw new ConfigurationError(
        `Drizzle's ${mysql ? 'mysql2' : 'node-postgres'} driver needs "${database.name}" to be a ${mysql ? 'mysqlDatabase (mysql2)' : 'pgDatabase (node-postgres)'} whose branches hand out the driver's connection.`,
      )
    }
    return raw
  }
  const onBranch =
    (method: 'query' | 'execute') =>
    async (...args: unknown[]): Promise<unknown> => {
      const transaction = current()
      if (transaction === undefined) {
        const run = (pool as StatementRunner)[method] as (...a: unknown[]) => Promise<unknown>
        return run.apply(pool, args)
      }
      const raw = await branchSession(transaction)
      return (raw[method] as (...a: unknown[]) => Promise<unknown>).apply(raw, args)
    }
  const checkout = async (): Promise<unknown> => {
    const transaction = current()
    if (transaction === undefined) {
      const connect = (pool as Record<string, unknown>)[mysql ? 'getConnection' : 'connect'] as (
        ...a: unknown[]
      ) => Promise<unknown>
      return connect.call(pool)
    }
    return new SavepointSession(await branchSession(transaction), transaction, mysql)
  }
  const overrides: Record<string, unknown> = {
    query: onBranch('query'),
    ...(mysql ? { execute: onBranch('execute'), getConnection: checkout } : { connect: checkout }),
  }
  // Drizzle tells a pool from a client by its class name (node-postgres) or getConnection (mysql2):
  // the Proxy keeps the pool's prototype, so it is still taken for a pool.
  return overriding(pool, overrides)
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
