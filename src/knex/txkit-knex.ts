import type { Database } from '../database/database.js'
import type { CallbackAdapter, DriverAdapter } from '../driver/driver-adapter.js'
import { adapterForToolDialect } from '../driver/driver-adapters.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { ManagedTransaction } from '../manager/managed-transaction.js'
import type { RecordKind } from '../manager/record-hooks.js'
import { sendInTurn } from '../manager/savepoint-scopes.js'
import { SavepointStatements } from '../manager/savepoint-statements.js'
import { requireOptions, toolTransaction } from '../manager/tool-transaction.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { overriding } from '../util/overriding.js'

export interface TxkitKnexOptions {
  /** The txkit database of the same server and database as the Knex instance's connection. */
  readonly database: Database
  /** The transaction manager whose current transaction queries join. */
  readonly manager: TransactionManager
  /** Outside a txkit transaction, refuse (a `TransactionStateError`) instead of using Knex's pool. */
  readonly explicit?: boolean
}

const OPTIONS: ReadonlySet<string> = new Set(['database', 'manager', 'explicit'])

/** The part of Knex's client txkit takes over (its connection checkout and transactions). */
interface KnexClientLike {
  readonly dialect?: string
  acquireConnection(): Promise<unknown>
  releaseConnection(connection: unknown): Promise<unknown>
  transaction(container: unknown, config?: Record<string, unknown>, outerTx?: unknown): unknown
}

/** What a Knex instance is to txkit: a function with a client and query events. */
interface KnexLike {
  readonly client: KnexClientLike
  on(event: 'query-response', listener: (response: unknown, query: KnexQuery) => void): unknown
}

/** The query object Knex passes to its `query-response` event. */
interface KnexQuery {
  readonly method?: string
  readonly returning?: unknown
  readonly __knexTxId?: string
  readonly __knexUid?: string
  readonly sql?: string
}

type Callback = (error: unknown, ...answer: unknown[]) => void

/**
 * The branch's connection as Knex's transactions see it: statements pass on to the branch's guarded
 * driver connection; the SAVEPOINT, RELEASE and ROLLBACK TO that Knex sends for a transaction inside
 * the txkit one become `tx.savepoint()`s (so an inner rollback also drops the writes it recorded).
 */
function knexSession(
  raw: object,
  transaction: ManagedTransaction,
  driver: CallbackAdapter,
): object {
  const statements = new SavepointStatements(transaction, 'Knex')
  const query = (config: unknown, ...rest: unknown[]): unknown => {
    const text =
      typeof config === 'string'
        ? config
        : ((config as { text?: string; sql?: string } | null)?.text ??
          (config as { sql?: string } | null)?.sql)
    const callback = rest.at(-1) as Callback
    const pass = () =>
      (raw as { query: (...a: unknown[]) => unknown }).query.call(raw, config, ...rest)
    // Only savepoint statements are Knex's here (its transactions run nested); BEGIN, COMMIT and
    // ROLLBACK pass on to the branch's guard, which refuses them.
    if (
      typeof text !== 'string' ||
      typeof callback !== 'function' ||
      !/^\s*(savepoint|release|rollback\s+to)\b/i.test(text)
    ) {
      const turn = statements.beforeStatement(typeof text === 'string' ? text : undefined)
      if (turn === undefined) return pass()
      if (typeof callback !== 'function') return sendInTurn(turn, pass)
      turn.then(
        (done) => {
          try {
            pass()
          } finally {
            done()
          }
        },
        (error: unknown) => callback(error),
      )
      return undefined
    }
    statements.handle(text, false).then(
      (handled) => {
        if (!handled) pass()
        else callback(null, ...driver.nothingDone())
      },
      (error: unknown) => callback(error),
    )
    return undefined
  }
  return overriding(raw, { query })
}

const KINDS: Readonly<Record<string, RecordKind>> = {
  insert: 'insert',
  update: 'update',
  del: 'delete',
}

/**
 * Puts a Knex instance on txkit transactions: one application-wide instance per database, used as
 * Knex's docs show. Inside `manager.run(...)` its queries run on the current txkit transaction's
 * branch for `database` (joined on first use) instead of a connection of Knex's pool;
 * `knex.transaction()` there is a savepoint of the txkit transaction (an inner failure undoes only
 * the inner work and its recorded writes; `isolationLevel` or `readOnly` is a ConfigurationError);
 * outside a transaction Knex uses its pool as usual (or refuses with `explicit: true`). Writes that
 * return rows (`.returning('*')`, PostgreSQL) feed the record hooks from Knex's `query-response`
 * event. Works with Knex's `pg` client over a `pgDatabase` and its `mysql2` client over a
 * `mysqlDatabase`. Answers the same instance.
 *
 * @throws ConfigurationError for a missing or unknown option, or a Knex client txkit cannot drive.
 * @example
 * ```ts
 * import knex from 'knex'
 * import { txkitKnex } from 'txkit/knex'
 *
 * const db = txkitKnex(knex({ client: 'pg', connection: process.env.ORDERS_URL }), { database: orders, manager })
 * await manager.run(() => db('orders').insert({ id: 1, total: 10 }))
 * ```
 */
export function txkitKnex<Knex extends object>(knex: Knex, options: TxkitKnexOptions): Knex {
  checkOptionNames(options ?? {}, OPTIONS, 'txkitKnex()')
  requireOptions(
    options as unknown as Record<string, unknown>,
    ['database', 'manager'],
    'txkitKnex(knex(config), { database: pgDatabase(pool, { name }), manager })',
  )
  const instance = knex as unknown as KnexLike
  const client = instance?.client
  if (typeof client?.acquireConnection !== 'function') {
    throw new ConfigurationError(
      'txkitKnex() needs a Knex instance (knex({ client, connection })).',
    )
  }
  const { database, manager } = options
  // The driver Knex's client is for, by the client's dialect; else the database's own.
  const driver: DriverAdapter | undefined =
    adapterForToolDialect('Knex', String(client.dialect ?? '')) ?? database.driver
  const branchConnections = new WeakSet<object>()
  const current = (): ManagedTransaction | undefined =>
    toolTransaction({ tool: 'Knex', database, manager, explicit: options.explicit })
  /** The branch's driver connection in the form Knex's client drives (callback API). */
  const branchConnection = async (transaction: ManagedTransaction): Promise<object> => {
    const branch = await transaction.join(database.name, database)
    const callback = driver?.callback
    const driven = callback?.connectionOf(branch.connection)
    if (driver === undefined || callback === undefined || driven === undefined) {
      throw new ConfigurationError(
        driver === undefined
          ? `Knex's ${String(client.dialect)} client cannot run on txkit's branches of "${database.name}".`
          : `${driver.tools.Knex?.label ?? `Knex's ${driver.packageName} client`} needs "${database.name}" to be a ${driver.databaseFactory} (${driver.name}).`,
      )
    }
    const session = knexSession(driven, transaction, callback)
    branchConnections.add(session)
    return session
  }

  const acquire = client.acquireConnection.bind(client)
  const release = client.releaseConnection.bind(client)
  const transact = client.transaction
  client.acquireConnection = async () => {
    const transaction = current()
    return transaction === undefined ? acquire() : branchConnection(transaction)
  }
  client.releaseConnection = async (connection: unknown) => {
    // A branch's session belongs to the txkit transaction, which gives it back when it ends.
    if (
      typeof connection === 'object' &&
      connection !== null &&
      branchConnections.has(connection)
    ) {
      return undefined
    }
    return release(connection)
  }
  client.transaction = function transaction(
    this: KnexClientLike,
    container: unknown,
    config?: Record<string, unknown>,
    outerTx?: unknown,
  ) {
    const txkit = outerTx === undefined || outerTx === null ? current() : undefined
    if (txkit === undefined) return transact.call(this, container, config, outerTx)
    if (config?.isolationLevel !== undefined || config?.readOnly !== undefined) {
      throw new ConfigurationError(
        `A Knex transaction inside a txkit transaction is a savepoint of it: its isolation level and access mode are the txkit transaction's, so ${
          config.isolationLevel !== undefined
            ? `isolationLevel: '${String(config.isolationLevel)}'`
            : 'readOnly'
        } cannot apply. Drop it, or run this Knex transaction outside the txkit transaction.`,
      )
    }
    // Knex opens a savepoint, not a transaction, on a client that is transacting already; the
    // connection is the branch's, taken through the (overridden) acquireConnection.
    const transacting = Object.create(client, { transacting: { value: true } }) as KnexClientLike
    return transact.call(transacting, container, config, outerTx)
  }
  instance.on('query-response', (response, query) => {
    const kind = KINDS[query.method ?? '']
    const table = tableOf(query.sql)
    const transaction = manager.current()
    if (kind === undefined || table === undefined || transaction?.status !== 'active') return
    const rows = Array.isArray(response) ? response : undefined
    if (query.returning === undefined || rows === undefined) return
    for (const row of rows) transaction.recordWrite(kind, table, row)
  })
  return knex
}

/** The table an INSERT, UPDATE or DELETE statement names (quoted with " or `). */
function tableOf(sql: string | undefined): string | undefined {
  const match = /^\s*(?:insert\s+into|update|delete\s+from)\s+(["`])([^"`]+)\1/i.exec(sql ?? '')
  return match?.[2]
}
