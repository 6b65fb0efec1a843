import type { RunnerDialect } from '../dialect/runner-dialect.js'
import {
  type ConnectionTarget,
  connectionIdentity,
  poolObjectIdentity,
} from '../driver/connection-identity.js'
import type { Database } from '../driver/database.js'
import { validateDatabaseName } from '../driver/database-name.js'
import type { BranchGuard, DriverConnection, QueryResult } from '../driver/driver-connection.js'
import type { HeldSession } from '../driver/held-session.js'
import { LostListeners } from '../driver/lost-listeners.js'
import { loadDriverPackage, type UrlDriver } from '../driver/url-driver.js'
import { withConnection } from '../driver/with-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { mysqlDialect } from './mysql-dialect.js'
import { type MysqlFlavour, queryFlavour } from './mysql-flavour.js'
import { mysqlRunnerDialect } from './mysql-runner-dialect.js'

/** The part of a mysql2/promise `PoolConnection` txkit uses. */
export interface MysqlConnectionLike {
  query(
    sql: string | { sql: string; timeout?: number },
    values?: unknown,
  ): Promise<[unknown, unknown]>
  release(): void
  destroy(): void
  /** The server's id of this session, for `KILL QUERY`. */
  readonly threadId?: number | null
  /** The callback-style connection under the promise wrapper; emits `error` and `end`. */
  readonly connection?: {
    on(event: 'error' | 'end', listener: (error?: Error) => void): unknown
    removeListener(event: 'error' | 'end', listener: (error?: Error) => void): unknown
  }
}

/** The part of a mysql2/promise `Pool` txkit uses. */
export interface MysqlPoolLike<Connection extends MysqlConnectionLike = MysqlConnectionLike> {
  getConnection(): Promise<Connection>
}

/** Where mysql2 keeps the connection settings of a promise pool (not part of its typings). */
interface Mysql2PoolInternals {
  readonly pool?: { readonly config?: { readonly connectionConfig?: ConnectionTarget } }
}

export interface MysqlDatabaseOptions {
  /** The database's stable name in the deployment (see {@link Database.name}). */
  readonly name: string
  /**
   * Give up on any statement txkit sends after this many ms (mysql2's per-query `timeout`, which
   * closes the connection): for tools that must never hang on a server that stopped answering.
   */
  readonly queryTimeout?: number
}

/** A txkit database over mysql2, which can also tell MySQL from MariaDB. */
export interface MysqlDatabase<Connection extends MysqlConnectionLike>
  extends Database<Connection> {
  /** MySQL and MariaDB locks (GET_LOCK) are exclusive only: `mode: 'shared'` does not compile. */
  readonly lockModes?: readonly ['exclusive']
  /**
   * Asks the server once (`SELECT VERSION()`) whether it is MySQL or MariaDB; the answer is cached.
   *
   * @example
   * ```ts
   * if ((await ledger.flavour()) === 'mariadb') console.log('XA RECOVER FORMAT=SQL available')
   * ```
   */
  flavour(): Promise<MysqlFlavour>
}

class MysqlConnection<Connection extends MysqlConnectionLike>
  implements DriverConnection<Connection>
{
  readonly raw: Connection
  /** Undefined for a connection the caller lent (the runner's target): never released here. */
  readonly #pool: MysqlPoolLike | undefined
  readonly #lost = new LostListeners()
  readonly #onGone = (): void => {
    this.#lost.markLost()
  }

  /** mysql2's per-query timeout (ms), when the database was given one. */
  readonly #queryTimeout: number | undefined

  constructor(connection: Connection, pool: MysqlPoolLike | undefined, queryTimeout?: number) {
    this.raw = connection
    this.#pool = pool
    this.#queryTimeout = queryTimeout
    // mysql2 emits 'error' for a fatal error with no command in flight; unheard, it would crash.
    // A lent connection is its owner's to watch.
    if (pool !== undefined) {
      connection.connection?.on('error', this.#onGone)
      connection.connection?.on('end', this.#onGone)
    }
  }

  get lost(): boolean {
    return this.#lost.lost
  }

  guarded(guard: BranchGuard): Connection {
    return guardMysqlConnection(this.raw, guard, true)
  }

  onLost(listener: () => void): () => void {
    return this.#lost.add(listener)
  }

  /**
   * MySQL has no out-of-band cancel: another session sends `KILL QUERY`. It is opened beside the
   * pool, with the pool's settings, because every pooled session may be waiting on a lock.
   */
  async cancel(): Promise<void> {
    const threadId = this.raw.threadId
    if (typeof threadId !== 'number') throw new Error('This MySQL session has no thread id.')
    const statement = `KILL QUERY ${Math.trunc(threadId)}`
    const side = sideConnection(this.raw.connection)
    if (side === undefined) {
      if (this.#pool === undefined) throw new Error('No session to send KILL QUERY from.')
      const killer = await this.#pool.getConnection()
      try {
        await killer.query(statement)
      } finally {
        killer.release()
      }
      return
    }
    await new Promise<void>((resolve, reject) => {
      side.once('error', reject)
      side.query(statement, (error) => {
        side.destroy()
        if (error) reject(error)
        else resolve()
      })
    })
  }

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    try {
      const timeout = this.#queryTimeout
      const [result] = await this.raw.query(timeout === undefined ? sql : { sql, timeout }, params)
      if (Array.isArray(result)) {
        return { rows: result as Row[], affectedRows: 0 }
      }
      const header = result as { affectedRows?: number; insertId?: number } | undefined
      return { rows: [], affectedRows: header?.affectedRows ?? 0, insertId: header?.insertId ?? 0 }
    } catch (error) {
      if ((error as { fatal?: unknown }).fatal === true) this.#lost.markLost()
      throw error
    }
  }

  release(destroy: boolean): void {
    if (this.#pool === undefined) return
    this.raw.connection?.removeListener('error', this.#onGone)
    this.raw.connection?.removeListener('end', this.#onGone)
    if (destroy || this.#lost.lost) {
      this.raw.destroy()
    } else {
      this.raw.release()
    }
  }
}

/** Statement-running methods of mysql2 connections (promise and callback), checked before use. */
const STATEMENT_METHODS = new Set(['query', 'execute', 'prepare'])
/** Methods that begin, end or hand over the session's transaction: never on a branch. */
const REFUSED_METHODS = new Set([
  'beginTransaction',
  'commit',
  'rollback',
  'changeUser',
  'reset',
  'release',
  'end',
  'destroy',
])

const SYNCHRONOUS_METHODS = new Set(['release', 'destroy'])

/**
 * A mysql2 connection as a branch hands it out: a Proxy (same object and type to the caller) whose
 * `query`, `execute` and `prepare` check the statement (a string or `{ sql }`) and whose
 * transaction, reset and release methods are refused. The callback connection under a promise
 * connection (`.connection`) and the promise wrapper of a callback connection (`.promise()`) are
 * guarded the same way.
 */
function guardMysqlConnection<Connection extends object>(
  connection: Connection,
  guard: BranchGuard,
  promiseApi: boolean,
): Connection {
  const cache = new Map<PropertyKey, unknown>()
  const checked =
    (method: (...args: unknown[]) => unknown) =>
    (first: unknown, ...rest: unknown[]): unknown => {
      const sql = typeof first === 'string' ? first : (first as { sql?: unknown } | null)?.sql
      try {
        if (typeof sql === 'string') guard.statement(sql)
      } catch (error) {
        const callback = rest.at(-1)
        if (typeof callback === 'function') {
          process.nextTick(() => callback(error))
          return undefined
        }
        if (promiseApi) return Promise.reject(error)
        throw error
      }
      return method.call(connection, first, ...rest)
    }
  return new Proxy(connection, {
    get(target, property) {
      const known = cache.get(property)
      if (known !== undefined) return known
      const value = Reflect.get(target, property, target)
      let answer: unknown
      if (typeof property === 'string' && REFUSED_METHODS.has(property)) {
        const refuse = () => guard.refuse(`${property}()`)
        // The promise API answers with a promise, except release() and destroy().
        answer =
          promiseApi && !SYNCHRONOUS_METHODS.has(property)
            ? () => new Promise(() => refuse())
            : refuse
      } else if (
        property === 'connection' &&
        promiseApi &&
        value !== null &&
        typeof value === 'object'
      ) {
        answer = guardMysqlConnection(value, guard, false)
      } else if (typeof value !== 'function') {
        return value
      } else if (typeof property === 'string' && STATEMENT_METHODS.has(property)) {
        answer = checked(value as (...args: unknown[]) => unknown)
      } else if (property === 'promise' && !promiseApi) {
        answer = (...args: unknown[]) =>
          guardMysqlConnection(
            (value as (...a: unknown[]) => object).apply(target, args),
            guard,
            true,
          )
      } else {
        answer = value.bind(target)
      }
      cache.set(property, answer)
      return answer
    },
  })
}

/** The callback connection mysql2 keeps under a promise connection, as far as a cancel needs it. */
interface CallbackConnection {
  readonly config?: unknown
  once(event: 'error', listener: (error: Error) => void): unknown
  query(sql: string, callback: (error: Error | null) => void): unknown
  destroy(): void
}

/**
 * A new session with the settings of `connection`, made with mysql2's own Connection class (the
 * base class of its PoolConnection); undefined when mysql2's shape is not the one expected.
 */
function sideConnection(connection: unknown): CallbackConnection | undefined {
  const config = (connection as { config?: unknown } | undefined)?.config
  const poolConnectionClass = (connection as object | undefined)?.constructor
  if (config === undefined || poolConnectionClass === undefined) return undefined
  const ConnectionClass = Object.getPrototypeOf(poolConnectionClass) as
    | (new (options: {
        config: unknown
      }) => CallbackConnection)
    | undefined
  if (typeof ConnectionClass !== 'function' || ConnectionClass === Function.prototype) {
    return undefined
  }
  try {
    return new ConnectionClass({ config })
  } catch {
    return undefined
  }
}

/**
 * A mysql2 connection you hold in a transaction (and keep: txkit never releases it), for
 * `runner.run` to work on that very connection, each attempt in a savepoint. The operation receives
 * the connection. (MySQL does not report a session's transaction state without a round trip; give
 * a pool-backed `mysqlDatabase` to have the runner open transactions itself.)
 *
 * @example
 * ```ts
 * const connection = await pool.getConnection()
 * await connection.query('START TRANSACTION')
 * await runner.run(mysqlSession(connection), (c) => c.query('UPDATE stock SET n = n - 1 WHERE id = 1'))
 * await connection.query('COMMIT')
 * ```
 */
export function mysqlSession<Connection extends MysqlConnectionLike>(
  connection: Connection,
): HeldSession<Connection> {
  const session = new MysqlConnection(connection, undefined)
  let dialect: Promise<RunnerDialect> | undefined
  return {
    kind: 'held-session',
    connection: session,
    inTransaction: () => true,
    runnerDialect() {
      dialect ??= queryFlavour(session).then(mysqlRunnerDialect)
      dialect.catch(() => {
        dialect = undefined
      })
      return dialect
    },
  }
}

function poolIdentity(pool: MysqlPoolLike): string {
  const config = (pool as Mysql2PoolInternals).pool?.config?.connectionConfig
  if (config === undefined) return poolObjectIdentity('mysql', pool)
  return connectionIdentity('mysql', {
    host: config.host,
    port: config.port ?? 3306,
    database: config.database,
    user: config.user,
  })
}

/**
 * Wraps a mysql2 pool (`mysql2/promise`'s `createPool`, or a callback pool, whose `.promise()` is
 * used) as a txkit database. Works with MySQL 8 and MariaDB 10.5+. Each branch checks out one
 * connection for its whole life. Two databases on one server are two branches with distinct XIDs.
 *
 * @example
 * ```ts
 * import mysql from 'mysql2/promise'
 * import { mysqlDatabase } from 'txkit/mysql2'
 *
 * const ledger = mysqlDatabase(mysql.createPool(process.env.LEDGER_URL ?? ''), { name: 'ledger' })
 * ```
 */
export function mysqlDatabase<Connection extends MysqlConnectionLike>(
  pool: MysqlPoolLike<Connection> | { promise(): MysqlPoolLike<Connection> },
  options: MysqlDatabaseOptions,
): MysqlDatabase<Connection> {
  const promisePool = toPromisePool(pool)
  checkOptionNames(options ?? {}, DATABASE_OPTIONS, 'mysqlDatabase()')
  const queryTimeout = options?.queryTimeout
  if (queryTimeout !== undefined && !(Number.isFinite(queryTimeout) && queryTimeout > 0)) {
    throw new ConfigurationError(
      `queryTimeout must be a positive number of milliseconds, not ${String(queryTimeout)}.`,
    )
  }
  const name = validateDatabaseName(options?.name)
  let flavour: Promise<MysqlFlavour> | undefined
  const database: MysqlDatabase<Connection> = {
    name,
    identity: poolIdentity(promisePool),
    dialect: mysqlDialect,
    async acquire() {
      return new MysqlConnection(
        await promisePool.getConnection(),
        promisePool,
        options.queryTimeout,
      )
    },
    flavour() {
      flavour ??= detectFlavour(database).catch((error: unknown) => {
        flavour = undefined
        throw error
      })
      return flavour
    },
  }
  return database
}

const DATABASE_OPTIONS: ReadonlySet<string> = new Set(['name', 'queryTimeout'])

function toPromisePool<Connection extends MysqlConnectionLike>(
  pool: MysqlPoolLike<Connection> | { promise(): MysqlPoolLike<Connection> },
): MysqlPoolLike<Connection> {
  if (pool !== null && typeof pool === 'object') {
    if ('promise' in pool && typeof pool.promise === 'function') {
      return pool.promise()
    }
    if ('getConnection' in pool && typeof pool.getConnection === 'function') {
      return pool
    }
  }
  throw new ConfigurationError(
    "mysqlDatabase() needs a mysql2 pool (createPool from 'mysql2/promise'): the value given has no getConnection() method.",
  )
}

function detectFlavour(database: Database): Promise<MysqlFlavour> {
  return withConnection(database, queryFlavour)
}

/**
 * Opens `mysql://` and `mariadb://` URLs with mysql2, for the manager's `tx.connect` (`urlDrivers`
 * option) and the CLI.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 * import { mysql2Urls } from 'txkit/mysql2'
 *
 * const manager = createTransactionManager({ decisionLog: ledger, urlDrivers: [mysql2Urls] })
 * ```
 */
export const mysql2Urls: UrlDriver = {
  packageName: 'mysql2',
  schemes: ['mysql', 'mariadb'],
  async open(name, url, options) {
    const mysql = await loadDriverPackage<typeof import('mysql2/promise')>(
      'mysql2/promise',
      'mysql',
    )
    const parsed = new URL(url)
    parsed.protocol = 'mysql:'
    const pool = mysql.createPool({
      uri: parsed.toString(),
      connectionLimit: options.max ?? 8,
      ...(options.connectTimeoutMs !== undefined && { connectTimeout: options.connectTimeoutMs }),
    })
    const queryTimeout = options.statementTimeoutMs
    return {
      database: mysqlDatabase(pool, { name, ...(queryTimeout !== undefined && { queryTimeout }) }),
      close: () => pool.end(),
    }
  },
}
