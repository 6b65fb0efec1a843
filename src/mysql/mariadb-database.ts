import { connectionIdentity } from '../driver/connection-identity.js'
import type { Database } from '../driver/database.js'
import { validateDatabaseName } from '../driver/database-name.js'
import type { BranchGuard, DriverConnection, QueryResult } from '../driver/driver-connection.js'
import type { HeldSession } from '../driver/held-session.js'
import { LostListeners } from '../driver/lost-listeners.js'
import { loadDriverPackage, type UrlDriver } from '../driver/url-driver.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { mysqlDialect } from './mysql-dialect.js'
import type { MysqlFlavour } from './mysql-flavour.js'
import { mysqlRunnerDialect } from './mysql-runner-dialect.js'

/** The part of a `mariadb` connector `PoolConnection` (promise API) txkit uses. */
export interface MariadbConnectionLike {
  query(sql: string | { sql: string; timeout?: number }, values?: unknown): Promise<unknown>
  release(): Promise<void>
  destroy(): void
  /** The server's id of this session, for `KILL QUERY`. */
  readonly threadId: number | null
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown
  removeListener(event: 'error' | 'end', listener: (error?: Error) => void): unknown
}

/** The part of a `mariadb` connector `Pool` (promise API) txkit uses. */
export interface MariadbPoolLike<Connection extends MariadbConnectionLike = MariadbConnectionLike> {
  getConnection(): Promise<Connection>
}

export interface MariadbDatabaseOptions {
  /** The database's stable name in the deployment (see {@link Database.name}). */
  readonly name: string
  /**
   * Give up on any statement txkit sends after this many ms (the connector's per-query `timeout`,
   * enforced by the server with `max_statement_time`).
   */
  readonly queryTimeout?: number
}

/** A txkit database over the `mariadb` connector; it knows its server (MySQL or MariaDB). */
export interface MariadbDatabase<Connection extends MariadbConnectionLike>
  extends Database<Connection> {
  /** MySQL and MariaDB locks (GET_LOCK) are exclusive only: `mode: 'shared'` does not compile. */
  readonly lockModes?: readonly ['exclusive']
  /**
   * Whether the server is MariaDB or MySQL, as it answered when the database was wrapped.
   *
   * @example
   * ```ts
   * if ((await ledger.flavour()) === 'mariadb') console.log('MariaDB')
   * ```
   */
  flavour(): Promise<MysqlFlavour>
}

/** What the connector answers to a statement that returns no rows. */
interface OkPacket {
  readonly affectedRows?: number | bigint
  readonly insertId?: number | bigint
}

class MariadbConnection<Connection extends MariadbConnectionLike>
  implements DriverConnection<Connection>
{
  readonly raw: Connection
  /** Undefined for a connection the caller lent: never released here. */
  readonly #pool: MariadbPoolLike | undefined
  readonly #queryTimeout: number | undefined
  readonly #lost = new LostListeners()
  readonly #onGone = (): void => {
    this.#lost.markLost()
  }

  constructor(connection: Connection, pool: MariadbPoolLike | undefined, queryTimeout?: number) {
    this.raw = connection
    this.#pool = pool
    this.#queryTimeout = queryTimeout
    if (pool !== undefined) {
      connection.on('error', this.#onGone)
      connection.on('end', this.#onGone)
    }
  }

  get lost(): boolean {
    return this.#lost.lost
  }

  onLost(listener: () => void): () => void {
    return this.#lost.add(listener)
  }

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    try {
      const timeout = this.#queryTimeout
      const answer = await this.raw.query(
        timeout === undefined ? sql : { sql, timeout },
        params === undefined ? undefined : [...params],
      )
      if (Array.isArray(answer)) return { rows: answer as Row[], affectedRows: 0 }
      const ok = (answer ?? {}) as OkPacket
      return {
        rows: [],
        affectedRows: Number(ok.affectedRows ?? 0),
        insertId: ok.insertId ?? 0,
      }
    } catch (error) {
      if ((error as { fatal?: unknown }).fatal === true || mysqlDialect.isConnectionLost(error)) {
        this.#lost.markLost()
      }
      throw error
    }
  }

  /**
   * `KILL QUERY` from another session of the pool: the connector keeps its settings to itself, so
   * no session can be opened beside it. A pool with every connection busy delays the cancel.
   */
  async cancel(): Promise<void> {
    const threadId = this.raw.threadId
    if (typeof threadId !== 'number' || this.#pool === undefined) {
      throw new Error('This MariaDB session cannot be cancelled (no thread id or pool).')
    }
    const killer = await this.#pool.getConnection()
    try {
      await killer.query(`KILL QUERY ${Math.trunc(threadId)}`)
    } finally {
      await killer.release()
    }
  }

  guarded(guard: BranchGuard): Connection {
    return guardMariadbConnection(this.raw, guard)
  }

  release(destroy: boolean): void {
    if (this.#pool === undefined) return
    this.raw.removeListener('error', this.#onGone)
    this.raw.removeListener('end', this.#onGone)
    if (destroy || this.#lost.lost) {
      this.raw.destroy()
    } else {
      // The connector resets the session (rolls back) before pooling it again.
      this.raw.release().catch(() => undefined)
    }
  }
}

/** Statement-running methods of the connector, checked before use. */
const STATEMENT_METHODS = new Set(['query', 'execute', 'prepare', 'batch', 'queryStream'])
/** Methods that begin, end or hand over the session's transaction, or send unseen statements. */
const REFUSED_METHODS = new Set([
  'beginTransaction',
  'commit',
  'rollback',
  'changeUser',
  'reset',
  'release',
  'end',
  'close',
  'destroy',
  'importFile',
])
const SYNCHRONOUS_METHODS = new Set(['destroy', 'queryStream'])

/**
 * A connector connection as a branch hands it out: a Proxy (same object and type) whose statements
 * are checked (a string or `{ sql }`) and whose transaction, reset and release methods are refused.
 */
function guardMariadbConnection<Connection extends object>(
  connection: Connection,
  guard: BranchGuard,
): Connection {
  const cache = new Map<PropertyKey, unknown>()
  return new Proxy(connection, {
    get(target, property) {
      const known = cache.get(property)
      if (known !== undefined) return known
      const value = Reflect.get(target, property, target)
      let answer: unknown
      if (typeof property === 'string' && REFUSED_METHODS.has(property)) {
        const refuse = () => guard.refuse(`${property}()`)
        answer = SYNCHRONOUS_METHODS.has(property) ? refuse : () => new Promise(() => refuse())
      } else if (typeof value !== 'function') {
        return value
      } else if (typeof property === 'string' && STATEMENT_METHODS.has(property)) {
        const method = value as (...args: unknown[]) => unknown
        answer = (first: unknown, ...rest: unknown[]) => {
          const sql = typeof first === 'string' ? first : (first as { sql?: unknown } | null)?.sql
          try {
            if (typeof sql === 'string') guard.statement(sql)
          } catch (error) {
            if (SYNCHRONOUS_METHODS.has(property)) throw error
            return Promise.reject(error)
          }
          return method.call(target, first, ...rest)
        }
      } else {
        answer = value.bind(target)
      }
      cache.set(property, answer)
      return answer
    },
  })
}

const DATABASE_OPTIONS: ReadonlySet<string> = new Set(['name', 'queryTimeout'])

interface ServerIdentity {
  readonly version: string
  readonly host: string
  readonly port: number | bigint | string
  readonly database: string | null
  readonly user: string
}

/**
 * Wraps a `mariadb` connector pool (`createPool` from `mariadb`) as a txkit database. The pool keeps
 * its settings private, so this asks the server once which host, port, database and user it is
 * (and whether it is MariaDB or MySQL): hence `await`. Each branch checks out one connection for
 * its whole life.
 *
 * @throws ConfigurationError for a value that is not a pool or a bad option; the server's error
 *   when it cannot be reached.
 * @example
 * ```ts
 * import mariadb from 'mariadb'
 * import { mariadbDatabase } from 'txkit/mariadb'
 *
 * const ledger = await mariadbDatabase(mariadb.createPool(process.env.LEDGER_URL ?? ''), { name: 'ledger' })
 * ```
 */
export async function mariadbDatabase<Connection extends MariadbConnectionLike>(
  pool: MariadbPoolLike<Connection>,
  options: MariadbDatabaseOptions,
): Promise<MariadbDatabase<Connection>> {
  if (pool === null || typeof pool !== 'object' || typeof pool.getConnection !== 'function') {
    throw new ConfigurationError(
      "mariadbDatabase() needs a mariadb connector pool (createPool from 'mariadb'): the value given has no getConnection() method.",
    )
  }
  checkOptionNames(options ?? {}, DATABASE_OPTIONS, 'mariadbDatabase()')
  const name = validateDatabaseName(options?.name)
  const queryTimeout = options.queryTimeout
  if (queryTimeout !== undefined && !(Number.isFinite(queryTimeout) && queryTimeout > 0)) {
    throw new ConfigurationError(
      `queryTimeout must be a positive number of milliseconds, not ${String(queryTimeout)}.`,
    )
  }
  const server = await askServer(pool)
  const flavour: MysqlFlavour = /mariadb/i.test(server.version) ? 'mariadb' : 'mysql'
  return {
    name,
    identity: connectionIdentity('mysql', {
      host: server.host,
      port: String(server.port),
      database: server.database ?? undefined,
      user: server.user.replace(/@[^@]*$/, ''),
    }),
    dialect: mysqlDialect,
    flavour: async () => flavour,
    async acquire() {
      return new MariadbConnection(await pool.getConnection(), pool, queryTimeout)
    },
  }
}

async function askServer(pool: MariadbPoolLike): Promise<ServerIdentity> {
  const connection = await pool.getConnection()
  try {
    const rows = (await connection.query(
      'SELECT VERSION() AS version, @@hostname AS host, @@port AS port, DATABASE() AS `database`, CURRENT_USER() AS user',
    )) as ServerIdentity[]
    const row = rows[0]
    if (row === undefined) throw new Error('The server answered no row to SELECT VERSION().')
    return row
  } finally {
    await connection.release()
  }
}

/**
 * A connector connection you hold in a transaction (and keep: txkit never releases it), for
 * `runner.run` to work on it, each attempt in a savepoint. The operation receives it.
 *
 * @example
 * ```ts
 * const connection = await pool.getConnection()
 * await connection.beginTransaction()
 * await runner.run(mariadbSession(connection, 'mariadb'), (c) => c.query('UPDATE stock SET n = n - 1 WHERE id = 1'))
 * await connection.commit()
 * ```
 */
export function mariadbSession<Connection extends MariadbConnectionLike>(
  connection: Connection,
  flavour: MysqlFlavour = 'mariadb',
): HeldSession<Connection> {
  return {
    kind: 'held-session',
    connection: new MariadbConnection(connection, undefined),
    inTransaction: () => true,
    runnerDialect: async () => mysqlRunnerDialect(flavour),
  }
}

/**
 * Opens `mysql://` and `mariadb://` URLs with the `mariadb` connector, for the manager's
 * `tx.connect` (`urlDrivers` option) and the CLI.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 * import { mariadbUrls } from 'txkit/mariadb'
 *
 * const manager = createTransactionManager({ decisionLog: ledger, urlDrivers: [mariadbUrls] })
 * ```
 */
export const mariadbUrls: UrlDriver = {
  packageName: 'mariadb',
  schemes: ['mysql', 'mariadb'],
  async open(name, url, options) {
    const mariadb = await loadDriverPackage<typeof import('mariadb')>('mariadb', 'mariadb')
    const parsed = new URL(url)
    parsed.protocol = 'mariadb:'
    const pool = mariadb.createPool(
      `${parsed.toString()}${parsed.search ? '&' : '?'}connectionLimit=${options.max ?? 8}&minimumIdle=1${
        options.connectTimeoutMs === undefined ? '' : `&connectTimeout=${options.connectTimeoutMs}`
      }`,
    )
    try {
      const queryTimeout = options.statementTimeoutMs
      const database = await mariadbDatabase(pool, {
        name,
        ...(queryTimeout !== undefined && { queryTimeout }),
      })
      return { database, close: () => pool.end() }
    } catch (error) {
      await pool.end().catch(() => undefined)
      throw error
    }
  },
}
