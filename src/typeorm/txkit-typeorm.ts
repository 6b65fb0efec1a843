import type { Database } from '../database/database.js'
import { adapterForToolDialect, driverAdapters } from '../driver/driver-adapters.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { ManagedTransaction } from '../manager/managed-transaction.js'
import type { RecordKind } from '../manager/record-hooks.js'
import { sendInTurn } from '../manager/savepoint-scopes.js'
import { SavepointStatements } from '../manager/savepoint-statements.js'
import { requireOptions, toolTransaction } from '../manager/tool-transaction.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { overriding } from '../util/overriding.js'

export interface TxkitTypeormOptions {
  /** The txkit database of the same server and database as the DataSource. */
  readonly database: Database
  /** The transaction manager whose current transaction queries join. */
  readonly manager: TransactionManager
  /** Outside a txkit transaction, refuse (a `TransactionStateError`) instead of using TypeORM's pool. */
  readonly explicit?: boolean
}

const OPTIONS: ReadonlySet<string> = new Set(['database', 'manager', 'explicit'])

/** The part of a TypeORM driver txkit takes over: how a query runner gets its connection. */
interface TypeormDriverLike {
  obtainMasterConnection(): Promise<unknown>
}

/** The part of a TypeORM DataSource txkit uses. */
interface DataSourceLike {
  readonly driver: TypeormDriverLike
  readonly options: { readonly type: string }
  readonly subscribers: unknown[]
  readonly isInitialized: boolean
}

/** What TypeORM's subscribers are told of a write. */
interface WriteEvent {
  readonly entity?: unknown
  readonly databaseEntity?: unknown
  readonly metadata: { readonly tableName: string }
}

type PromiseQuery = (text: unknown, ...rest: unknown[]) => Promise<unknown>

/**
 * A promise-style `query` that carries out TypeORM's transaction statements as savepoints of the
 * txkit transaction, and sends the rest on.
 */
function savepointQuery(send: PromiseQuery, statements: SavepointStatements, answer: unknown) {
  return async (text: unknown, ...rest: unknown[]): Promise<unknown> => {
    const sql = typeof text === 'string' ? text : (text as { sql?: unknown } | null)?.sql
    if (typeof sql === 'string' && (await statements.handle(sql))) return answer
    return sendInTurn(statements.beforeStatement(typeof sql === 'string' ? sql : undefined), () =>
      send(text, ...rest),
    )
  }
}

/**
 * Puts a TypeORM DataSource on txkit transactions, after `initialize()`: one application-wide
 * DataSource per database, used as TypeORM's docs show. Inside `manager.run(...)` every query
 * runner of the DataSource (so `dataSource.manager`, repositories, query builders) works on the
 * current txkit transaction's branch for `database`, joined on first use; the transactions TypeORM
 * opens there, `dataSource.transaction()` and the implicit ones of `save()` and `remove()`, are
 * savepoints of the txkit transaction (an inner failure undoes only the inner work and its recorded
 * writes; an isolation level is a ConfigurationError). Outside a transaction TypeORM uses its pool
 * as usual (or refuses with `explicit: true`). A subscriber feeds `manager.onRecord` hooks from
 * TypeORM's insert, update and remove events, with a snapshot of the entity. Works with the
 * `postgres` driver over a `pgDatabase` and the `mysql`/`mariadb` drivers (mysql2) over a
 * `mysqlDatabase`. Answers the same DataSource.
 *
 * @throws ConfigurationError for a missing or unknown option, a DataSource not initialised, or a
 *   driver txkit cannot drive.
 * @example
 * ```ts
 * import { DataSource } from 'typeorm'
 * import { txkitTypeorm } from 'txkit/typeorm'
 *
 * const dataSource = txkitTypeorm(await new DataSource({ type: 'postgres', url, entities }).initialize(), {
 *   database: orders,
 *   manager,
 * })
 * await manager.run(() => dataSource.manager.save(Order, { id: 1, total: 10 }))
 * ```
 */
export function txkitTypeorm<Source extends object>(
  dataSource: Source,
  options: TxkitTypeormOptions,
): Source {
  checkOptionNames(options ?? {}, OPTIONS, 'txkitTypeorm()')
  requireOptions(
    options as unknown as Record<string, unknown>,
    ['database', 'manager'],
    'txkitTypeorm(dataSource, { database: pgDatabase(pool, { name }), manager })',
  )
  const source = dataSource as unknown as DataSourceLike
  if (
    source?.isInitialized !== true ||
    typeof source.driver?.obtainMasterConnection !== 'function'
  ) {
    throw new ConfigurationError(
      'txkitTypeorm() needs an initialised TypeORM DataSource: txkitTypeorm(await dataSource.initialize(), …).',
    )
  }
  const type = source.options.type
  // The driver TypeORM's `type` selects, as the drivers' adapters name TypeORM's types.
  const driverAdapter = adapterForToolDialect('TypeORM', type)
  const callback = driverAdapter?.callback
  if (driverAdapter === undefined || callback === undefined) {
    const types = driverAdapters().flatMap((adapter) => adapter.tools.TypeORM?.dialects ?? [])
    throw new ConfigurationError(
      `txkitTypeorm() drives TypeORM's ${listed(types)} drivers, not "${type}".`,
    )
  }
  const { database, manager } = options
  const current = (): ManagedTransaction | undefined =>
    toolTransaction({ tool: 'TypeORM', database, manager, explicit: options.explicit })

  /** The branch's connection as one query runner of TypeORM gets it. */
  const branchConnection = async (transaction: ManagedTransaction): Promise<unknown> => {
    const branch = await transaction.join(database.name, database)
    const connection = callback.connectionOf(branch.connection)
    if (connection === undefined) {
      throw new ConfigurationError(
        `TypeORM's ${type} driver needs "${database.name}" to be a ${driverAdapter.databaseFactory} (${driverAdapter.name}).`,
      )
    }
    const statements = new SavepointStatements(transaction, 'TypeORM')
    const answer = callback.promiseNothingDone()
    if (!callback.wrapped) {
      // One object answers both forms (node-postgres): its `query` is the one TypeORM calls.
      const send = (connection.query as PromiseQuery).bind(connection)
      return overriding(connection, { query: savepointQuery(send, statements, answer) })
    }
    // TypeORM drives the callback connection and sends through its promise() wrapper.
    const promised = (connection.promise as () => Record<string, unknown>)()
    const send = (promised.query as PromiseQuery).bind(promised)
    const promiseSide = overriding(promised, { query: savepointQuery(send, statements, answer) })
    return overriding(connection, {
      promise: () => promiseSide,
      // The branch's session is the txkit transaction's, which gives it back when it ends.
      release: () => undefined,
    })
  }

  const driver = source.driver
  const obtain = driver.obtainMasterConnection.bind(driver)
  driver.obtainMasterConnection = async () => {
    const transaction = current()
    if (transaction === undefined) return obtain()
    const connection = await branchConnection(transaction)
    // TypeORM's driver over a driver of one object answers [connection, release]; over a wrapped
    // callback connection, the connection (released by the query runner).
    return callback.wrapped ? connection : [connection, () => undefined]
  }

  const record = (kind: RecordKind) => (event: WriteEvent) => {
    const transaction = manager.current()
    const entity = event.entity ?? event.databaseEntity
    if (transaction?.status !== 'active' || entity === undefined || entity === null) return
    // A snapshot: the entity object goes on changing after the write.
    transaction.recordWrite(kind, event.metadata.tableName, { ...(entity as object) })
  }
  source.subscribers.push({
    afterInsert: record('insert'),
    afterUpdate: record('update'),
    afterRemove: record('delete'),
  })
  return dataSource
}

/** `a, b and c`. */
function listed(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`
}
