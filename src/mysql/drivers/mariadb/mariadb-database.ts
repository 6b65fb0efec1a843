import type { Database } from '../../../database/database.js'
import { validateDatabaseName } from '../../../database/database-name.js'
import { withConnection } from '../../../database/with-connection.js'
import {
  type ConnectionTarget,
  connectionIdentity,
  targetFromUrl,
} from '../../../driver/connection-identity.js'
import { ConfigurationError } from '../../../errors/configuration-error.js'
import { checkOptionNames } from '../../../util/check-option-names.js'
import { errorMessage } from '../../../util/error-message.js'
import { mysqlDialect } from '../../mysql-dialect.js'
import { type MysqlFlavour, queryFlavour } from '../../mysql-flavour.js'
import { mariadbAdapter } from './mariadb-adapter.js'
import {
  MariadbConnection,
  type MariadbConnectionLike,
  type MariadbPoolLike,
} from './mariadb-connection.js'
import { askServer, mariadbIdentity } from './mariadb-identity.js'

export interface MariadbDatabaseOptions {
  /** The database's stable name in the deployment (see {@link Database.name}). */
  readonly name: string
  /**
   * Give up on any statement txkit sends after this many ms (the connector's per-query `timeout`,
   * enforced by the server with `max_statement_time`).
   */
  readonly queryTimeout?: number
  /**
   * Where the pool's connections go, as given to `createPool` (its URL, or its options object: only
   * `host`, `port`, `database` and `user` are read, never the password). With it the database is
   * wrapped without asking the server anything, so a coordinator can start while the server is
   * down; only the transactions that need it then fail, until it is back. Without it, the server
   * is asked who it is. Give every handle on one server the same way (all with it, or none): the
   * server names itself by its own hostname, so mixing the two makes two databases of one.
   */
  readonly identity?: string | ConnectionTarget
}

/** A txkit database over the `mariadb` connector; it knows its server (MySQL or MariaDB). */
export interface MariadbDatabase<Connection extends MariadbConnectionLike>
  extends Database<Connection> {
  /** MySQL and MariaDB locks (GET_LOCK) are exclusive only: `mode: 'shared'` does not compile. */
  readonly lockModes?: readonly ['exclusive']
  /**
   * Whether the server is MariaDB or MySQL: as it answered when the database was wrapped, or (with
   * the `identity` option) asked on first call and cached.
   *
   * @example
   * ```ts
   * if ((await ledger.flavour()) === 'mariadb') console.log('MariaDB')
   * ```
   */
  flavour(): Promise<MysqlFlavour>
}

const DATABASE_OPTIONS: ReadonlySet<string> = new Set(['name', 'queryTimeout', 'identity'])

/**
 * Wraps a `mariadb` connector pool (`createPool` from `mariadb`) as a txkit database. The pool keeps
 * its settings private, so unless the `identity` option says where the pool goes, this asks the
 * server once which host, port, database and user it is (and whether it is MariaDB or MySQL):
 * hence `await`. Each branch checks out one connection for its whole life.
 *
 * @throws ConfigurationError for a value that is not a pool or a bad option; without `identity`,
 *   an error (the server's as `cause`) when the server cannot be reached.
 * @example
 * ```ts
 * import mariadb from 'mariadb'
 * import { mariadbDatabase } from 'txkit/mariadb'
 *
 * const url = process.env.LEDGER_URL ?? ''
 * // With identity, nothing is asked of the server: this succeeds while it is down.
 * const ledger = await mariadbDatabase(mariadb.createPool(url), { name: 'ledger', identity: url })
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
  const given = options.identity === undefined ? undefined : givenIdentity(options.identity)
  async function acquire() {
    return new MariadbConnection(await pool.getConnection(), pool, queryTimeout)
  }
  if (given !== undefined) {
    let flavour: Promise<MysqlFlavour> | undefined
    const database: MariadbDatabase<Connection> = {
      name,
      identity: given,
      dialect: mysqlDialect,
      driver: mariadbAdapter,
      acquire,
      flavour() {
        flavour ??= withConnection(database, queryFlavour).catch((error: unknown) => {
          flavour = undefined
          throw error
        })
        return flavour
      },
    }
    return database
  }
  let server: Awaited<ReturnType<typeof askServer>>
  try {
    server = await askServer(pool)
  } catch (error) {
    throw new Error(
      `mariadbDatabase() could not ask the server of "${name}" who it is (${errorMessage(error)}): ` +
        "pass the pool's settings as the identity option ({ name, identity: <the URL or options given to createPool> }) to wrap it without the server.",
      { cause: error },
    )
  }
  const flavour: MysqlFlavour = /mariadb/i.test(server.version) ? 'mariadb' : 'mysql'
  return {
    name,
    identity: mariadbIdentity(server),
    dialect: mysqlDialect,
    driver: mariadbAdapter,
    flavour: async () => flavour,
    acquire,
  }
}

/** The identity the `identity` option says: the connector's defaults where a part is left out. */
function givenIdentity(given: string | ConnectionTarget): string {
  const target = typeof given === 'string' ? targetFromUrl(given) : given
  if (
    target === null ||
    typeof target !== 'object' ||
    (typeof given === 'string' && !URL.canParse(given))
  ) {
    throw new ConfigurationError(
      'mariadbDatabase() identity must be the URL or the options object given to createPool (host, port, database, user).',
    )
  }
  for (const part of ['host', 'database', 'user'] as const) {
    const value = target[part]
    if (value !== undefined && typeof value !== 'string') {
      throw new ConfigurationError(`mariadbDatabase() identity.${part} must be a string.`)
    }
  }
  const port = target.port
  if (port !== undefined && !/^\d+$/.test(String(port))) {
    throw new ConfigurationError(
      `mariadbDatabase() identity.port must be a port number, not ${String(port)}.`,
    )
  }
  return connectionIdentity('mysql', {
    host: target.host || 'localhost',
    port: String(port ?? 3306),
    database: target.database || undefined,
    user: target.user || undefined,
  })
}
