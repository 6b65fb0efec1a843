import type { Database } from '../driver/database.js'
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
  const mysql = type === 'mysql' || type === 'mariadb'
  if (!mysql && type !== 'postgres') {
    throw new ConfigurationError(
      `txkitTypeorm() drives TypeORM's postgres, mysql and mariadb drivers, not "${type}".`,
    )
  }
  const { database, manager } = options
  const current = (): ManagedTransaction | undefined =>
    toolTransaction({ tool: 'TypeORM', database, manager, explicit: options.explicit })

  /** The branch's connection as one query runner of TypeORM gets it. */
  const branchConnection = async (transaction: ManagedTransaction): Promise<unknown> => {
    const branch = await transaction.join(database.name, database)
    const raw = branch.connection as
      | (Record<string, unknown> & { query?: unknown; connection?: Record<string, unknown> })
      | null
    const statements = new SavepointStatements(transaction, 'TypeORM')
    if (!mysql) {
      if (typeof raw?.query !== 'function') {
        throw new ConfigurationError(
          `TypeORM's postgres driver needs "${database.name}" to be a pgDatabase (node-postgres).`,
        )
      }
      const client = raw
      const send = (client.query as PromiseQuery).bind(client)
      // TypeORM's postgres driver reads `rows`, `rowCount` and `command`.
      return overriding(client, {
        query: savepointQuery(send, statements, { rows: [], rowCount: 0, command: '' }),
      })
    }
    // mysql2: TypeORM drives the callback connection and sends through its promise() wrapper.
    const callbackConnection = raw?.connection
    if (callbackConnection === undefined || typeof callbackConnection.promise !== 'function') {
      throw new ConfigurationError(
        `TypeORM's ${type} driver needs "${database.name}" to be a mysqlDatabase (mysql2).`,
      )
    }
    const promised = (callbackConnection.promise as () => Record<string, unknown>)()
    const send = (promised.query as PromiseQuery).bind(promised)
    const promiseSide = overriding(promised, {
      query: savepointQuery(send, statements, [{ affectedRows: 0 }, undefined]),
    })
    return overriding(callbackConnection, {
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
    // postgres answers [connection, release]; mysql the connection (released by the runner).
    return mysql ? connection : [connection, () => undefined]
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
