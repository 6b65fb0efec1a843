import type { Database } from '../../../database/database.js'
import { validateDatabaseName } from '../../../database/database-name.js'
import { withConnection } from '../../../database/with-connection.js'
import { ConfigurationError } from '../../../errors/configuration-error.js'
import { checkOptionNames } from '../../../util/check-option-names.js'
import { mysqlDialect } from '../../mysql-dialect.js'
import { type MysqlFlavour, queryFlavour } from '../../mysql-flavour.js'
import { mysql2Adapter } from './mysql2-adapter.js'
import {
  MysqlConnection,
  type MysqlConnectionLike,
  type MysqlPoolLike,
} from './mysql2-connection.js'
import { mysql2Identity } from './mysql2-identity.js'

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
    identity: mysql2Identity(promisePool),
    dialect: mysqlDialect,
    driver: mysql2Adapter,
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
