import type { Database } from '../../../database/database.js'
import { validateDatabaseName } from '../../../database/database-name.js'
import { ConfigurationError } from '../../../errors/configuration-error.js'
import { checkOptionNames } from '../../../util/check-option-names.js'
import { postgresDialect } from '../../postgres-dialect.js'
import { postgresJsAdapter } from './postgres-js-adapter.js'
import {
  PostgresJsConnection,
  type PostgresJsListen,
  type PostgresJsReservedLike,
} from './postgres-js-connection.js'
import { type PostgresJsSqlLike, postgresJsIdentity } from './postgres-js-identity.js'
import { Reservations } from './postgres-js-reserve.js'

export interface PostgresJsDatabaseOptions {
  /** The database's stable name in the deployment (see {@link Database.name}). */
  readonly name: string
}

const DATABASE_OPTIONS: ReadonlySet<string> = new Set(['name'])

const reservationsBySql = new WeakMap<object, Reservations<PostgresJsReservedLike>>()

/** One set of reservations per postgres.js instance, shared by every database wrapping it. */
function reservationsOf<Reserved extends PostgresJsReservedLike>(
  sql: PostgresJsSqlLike<Reserved>,
): Reservations<Reserved> {
  let known = reservationsBySql.get(sql)
  if (known === undefined) {
    known = new Reservations<PostgresJsReservedLike>(sql)
    reservationsBySql.set(sql, known)
  }
  return known as unknown as Reservations<Reserved>
}

/**
 * Wraps a postgres.js instance (`postgres(url)`) as a txkit database. Each branch reserves one
 * connection (`sql.reserve()`) for its whole life, so `max` bounds concurrent transactions.
 * postgres.js pipelines: a branch's BEGIN goes out with its first statement, one round trip fewer
 * than node-postgres per branch. `branch.connection` is the reserved `sql`: use it as a tagged
 * template (`` sql`insert …` ``). PostgreSQL must run with `max_prepared_transactions` > 0.
 *
 * @example
 * ```ts
 * import postgres from 'postgres'
 * import { postgresJsDatabase } from 'txkit/postgres-js'
 *
 * const orders = postgresJsDatabase(postgres(process.env.ORDERS_URL ?? ''), { name: 'orders' })
 * ```
 */
export function postgresJsDatabase<Reserved extends PostgresJsReservedLike>(
  sql: PostgresJsSqlLike<Reserved>,
  options: PostgresJsDatabaseOptions,
): Database<Reserved> {
  if (typeof (sql as unknown) !== 'function' || typeof sql.reserve !== 'function') {
    throw new ConfigurationError(
      "postgresJsDatabase() needs a postgres.js instance (postgres(url) from 'postgres'): the value given has no reserve() method.",
    )
  }
  checkOptionNames(options ?? {}, DATABASE_OPTIONS, 'postgresJsDatabase()')
  const name = validateDatabaseName(options?.name)
  const reservations = reservationsOf(sql)
  const closed = () => reservations.connectionClosed()
  const listen: PostgresJsListen | undefined =
    typeof sql.listen === 'function'
      ? (channel, onNotify) => (sql.listen as PostgresJsListen)(channel, onNotify)
      : undefined
  return {
    name,
    identity: postgresJsIdentity(sql),
    dialect: postgresDialect,
    driver: postgresJsAdapter,
    async acquire() {
      return new PostgresJsConnection(await reservations.reserve(), true, closed, listen)
    },
  }
}
