import type {
  CompiledQuery,
  DatabaseConnection,
  DatabaseIntrospector,
  Dialect,
  DialectAdapter,
  Driver,
  Kysely,
  QueryCompiler,
  QueryResult,
  TransactionSettings,
} from 'kysely'
import type { Database } from '../database/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import type { ManagedTransaction } from '../manager/managed-transaction.js'
import { sendInTurn } from '../manager/savepoint-scopes.js'
import { SavepointStatements } from '../manager/savepoint-statements.js'
import { requireOptions, toolTransaction } from '../manager/tool-transaction.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import type { BranchHandle } from '../protocol/branch.js'
import { checkOptionNames } from '../util/check-option-names.js'

export interface TxkitDialectOptions {
  /** The Kysely dialect you would use without txkit, over the same pool as `database`. */
  readonly dialect: Dialect
  /** The txkit database of that pool (`pgDatabase(pool, { name })`, `mysqlDatabase` …). */
  readonly database: Database
  /** The transaction manager whose current transaction queries join. */
  readonly manager: TransactionManager
  /**
   * Outside a txkit transaction, refuse to run (a `TransactionStateError`) instead of using the
   * pool as usual (default false).
   */
  readonly explicit?: boolean
}

const OPTIONS: ReadonlySet<string> = new Set(['dialect', 'database', 'manager', 'explicit'])

/**
 * The session of a txkit transaction's branch, as Kysely sees a connection: statements run through
 * the branch handle (so transaction control is refused), Kysely's transactions become savepoints,
 * taking turns with those of other connections (see `SavepointStatements`).
 */
class BranchConnection implements DatabaseConnection {
  readonly #branch: BranchHandle
  readonly statements: SavepointStatements

  constructor(branch: BranchHandle, transaction: ManagedTransaction) {
    this.#branch = branch
    this.statements = new SavepointStatements(transaction, 'Kysely')
  }

  async executeQuery<Row>(compiledQuery: CompiledQuery): Promise<QueryResult<Row>> {
    const result = await sendInTurn(this.statements.beforeStatement(compiledQuery.sql), () =>
      this.#branch.execute<Row>(compiledQuery.sql, compiledQuery.parameters),
    )
    const kind = compiledQuery.query.kind
    const writes =
      kind === 'InsertQueryNode' ||
      kind === 'UpdateQueryNode' ||
      kind === 'DeleteQueryNode' ||
      kind === 'MergeQueryNode'
    return {
      rows: result.rows,
      ...(writes && { numAffectedRows: BigInt(result.affectedRows) }),
      ...(kind === 'InsertQueryNode' &&
        result.insertId !== undefined &&
        Number(result.insertId) > 0 && { insertId: BigInt(result.insertId) }),
    }
  }

  /** The whole answer as one chunk: a branch runs through txkit, which has no cursor. */
  async *streamQuery<Row>(compiledQuery: CompiledQuery): AsyncIterableIterator<QueryResult<Row>> {
    yield await this.executeQuery<Row>(compiledQuery)
  }
}

/**
 * Runs Kysely's queries on the current txkit transaction's branch when there is one, on the pool as
 * usual otherwise. A transaction Kysely opens inside a txkit transaction is a savepoint of it.
 */
class TxkitDriver implements Driver {
  readonly #inner: Driver
  readonly #options: TxkitDialectOptions

  constructor(inner: Driver, options: TxkitDialectOptions) {
    this.#inner = inner
    this.#options = options
  }

  init(): Promise<void> {
    return this.#inner.init()
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const { manager, database, explicit } = this.#options
    const transaction = toolTransaction({ tool: 'Kysely', database, manager, explicit })
    if (transaction === undefined) return this.#inner.acquireConnection()
    const branch = await transaction.join(database.name, database)
    return new BranchConnection(branch, transaction)
  }

  async beginTransaction(
    connection: DatabaseConnection,
    settings: TransactionSettings,
  ): Promise<void> {
    if (!(connection instanceof BranchConnection)) {
      return this.#inner.beginTransaction(connection, settings)
    }
    if (settings.isolationLevel !== undefined || settings.accessMode !== undefined) {
      throw new ConfigurationError(
        `A Kysely transaction inside a txkit transaction is a savepoint of it: its isolation level and access mode are the txkit transaction's, so ${
          settings.isolationLevel !== undefined
            ? `setIsolationLevel('${settings.isolationLevel}')`
            : `setAccessMode('${settings.accessMode}')`
        } cannot apply. Drop it, or run this Kysely transaction outside the txkit transaction.`,
      )
    }
    await connection.statements.begin()
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    if (!(connection instanceof BranchConnection)) {
      return this.#inner.commitTransaction(connection)
    }
    await ended(connection, 'commit')
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (!(connection instanceof BranchConnection)) {
      return this.#inner.rollbackTransaction(connection)
    }
    await ended(connection, 'rollback')
  }

  async savepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!(connection instanceof BranchConnection)) {
      return this.#inner.savepoint?.(connection, name, compileQuery)
    }
    await connection.statements.savepoint(name)
  }

  async rollbackToSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!(connection instanceof BranchConnection)) {
      return this.#inner.rollbackToSavepoint?.(connection, name, compileQuery)
    }
    await connection.statements.toSavepoint(name, 'rollback')
  }

  async releaseSavepoint(
    connection: DatabaseConnection,
    name: string,
    compileQuery: QueryCompiler['compileQuery'],
  ): Promise<void> {
    if (!(connection instanceof BranchConnection)) {
      return this.#inner.releaseSavepoint?.(connection, name, compileQuery)
    }
    await connection.statements.toSavepoint(name, 'release')
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    // A branch's session belongs to the txkit transaction, which gives it back when it ends.
    if (!(connection instanceof BranchConnection)) await this.#inner.releaseConnection(connection)
  }

  destroy(): Promise<void> {
    return this.#inner.destroy()
  }
}

async function ended(connection: BranchConnection, action: 'commit' | 'rollback'): Promise<void> {
  if (!(await connection.statements.end(action))) {
    throw new TransactionStateError('Kysely ended a transaction it had not begun on this branch.')
  }
}

/**
 * A Kysely dialect that runs your queries inside the current txkit transaction: one
 * application-wide `Kysely` instance per database, used as Kysely's docs show. Inside
 * `manager.run(...)` its queries join the transaction's branch for that database (joining it on
 * first use); `db.transaction()` there is a savepoint (an inner failure undoes only the inner work,
 * and its recorded writes); outside any transaction it uses the pool as usual, or refuses with
 * `explicit: true`. It never starts a transaction because a query ran.
 *
 * @throws ConfigurationError for a missing or unknown option.
 * @example
 * ```ts
 * import { Kysely, PostgresDialect } from 'kysely'
 * import pg from 'pg'
 * import { createTransactionManager } from 'txkit'
 * import { txkitDialect } from 'txkit/kysely'
 * import { pgDatabase } from 'txkit/node-postgres'
 *
 * const pool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
 * const orders = pgDatabase(pool, { name: 'orders' })
 * const manager = createTransactionManager({ decisionLog: orders })
 * const db = new Kysely<OrdersSchema>({
 *   dialect: txkitDialect({ dialect: new PostgresDialect({ pool }), database: orders, manager }),
 * })
 * await manager.run(async () => {
 *   await db.insertInto('orders').values({ id: 1, total: 10 }).execute()
 * })
 * ```
 */
export function txkitDialect(options: TxkitDialectOptions): Dialect {
  checkOptionNames(options ?? {}, OPTIONS, 'txkitDialect()')
  requireOptions(
    options as unknown as Record<string, unknown>,
    ['dialect', 'database', 'manager'],
    'txkitDialect({ dialect: new PostgresDialect({ pool }), database: pgDatabase(pool, { name }), manager })',
  )
  const { dialect } = options
  return {
    createAdapter: (): DialectAdapter => dialect.createAdapter(),
    createDriver: (): Driver => new TxkitDriver(dialect.createDriver(), options),
    createQueryCompiler: (): QueryCompiler => dialect.createQueryCompiler(),
    // biome-ignore lint/suspicious/noExplicitAny: Kysely's own signature
    createIntrospector: (db: Kysely<any>): DatabaseIntrospector => dialect.createIntrospector(db),
  }
}
