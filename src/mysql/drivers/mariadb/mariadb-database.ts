import type { Database } from '../../../database/database.js'
import { validateDatabaseName } from '../../../database/database-name.js'
import { ConfigurationError } from '../../../errors/configuration-error.js'
import { checkOptionNames } from '../../../util/check-option-names.js'
import { mysqlDialect } from '../../mysql-dialect.js'
import type { MysqlFlavour } from '../../mysql-flavour.js'
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

const DATABASE_OPTIONS: ReadonlySet<string> = new Set(['name', 'queryTimeout'])

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
    identity: mariadbIdentity(server),
    dialect: mysqlDialect,
    driver: mariadbAdapter,
    flavour: async () => flavour,
    async acquire() {
      return new MariadbConnection(await pool.getConnection(), pool, queryTimeout)
    },
  }
}
