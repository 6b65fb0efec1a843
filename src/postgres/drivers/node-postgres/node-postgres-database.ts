import type { Database } from '../../../database/database.js'
import { validateDatabaseName } from '../../../database/database-name.js'
import { ConfigurationError } from '../../../errors/configuration-error.js'
import { checkOptionNames } from '../../../util/check-option-names.js'
import { postgresDialect } from '../../postgres-dialect.js'
import { nodePostgresAdapter } from './node-postgres-adapter.js'
import { type PgClientLike, PgConnection } from './node-postgres-connection.js'
import { nodePostgresIdentity, type PgPoolLike } from './node-postgres-identity.js'

/**
 * The client class a pool hands out. node-postgres's `Pool.connect` is overloaded, and TypeScript
 * infers from the last overload (the callback form), whose callback receives the `PoolClient`.
 */
export type PgClientOf<Pool> = Pool extends {
  connect(callback: (error: never, client: infer Client, done: never) => void): void
}
  ? NonNullable<Client> extends PgClientLike
    ? NonNullable<Client>
    : PgClientLike
  : Pool extends PgPoolLike<infer Client>
    ? Client
    : PgClientLike

export interface PgDatabaseOptions {
  /** The database's stable name in the deployment (see {@link Database.name}). */
  readonly name: string
}

/**
 * A client of `pool` as txkit's connection, watched for loss from the moment pg-pool hands it out.
 * pg-pool stops listening for a client's errors when it hands the client out, and resolves the
 * promise of `connect()` only a microtask later: an error that arrives in the same read as the
 * new client's ReadyForQuery (a server dying as the client connects: "unexpected postmaster
 * exit") is emitted in between, to no listener, and ends the process. Its callback form is called
 * in the same tick, before the rest of that read is parsed.
 */
function checkOut(pool: PgPoolLike): Promise<PgConnection<PgClientLike>> {
  const connect = pool.connect as (
    callback?: PgConnectCallback,
  ) => Promise<PgClientLike> | undefined
  if (connect.length === 0) {
    // A pool-like object without the callback form.
    return (connect.call(pool) as Promise<PgClientLike>).then((client) => new PgConnection(client))
  }
  return new Promise((resolve, reject) => {
    connect.call(pool, (error, client) => {
      if (error !== undefined && error !== null) reject(error)
      else resolve(new PgConnection(client as PgClientLike))
    })
  })
}

type PgConnectCallback = (error: Error | null | undefined, client?: PgClientLike) => void

const DATABASE_OPTIONS: ReadonlySet<string> = new Set(['name'])

/**
 * Wraps a node-postgres `Pool` as a txkit database. Each transaction branch checks out one client
 * for its whole life; the pool needs at least as many clients as concurrent transactions.
 * PostgreSQL must run with `max_prepared_transactions` > 0.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { pgDatabase } from 'txkit/node-postgres'
 *
 * const orders = pgDatabase(new pg.Pool({ connectionString: process.env.ORDERS_URL }), { name: 'orders' })
 * ```
 */
export function pgDatabase<Pool extends PgPoolLike>(
  pool: Pool,
  options: PgDatabaseOptions,
): Database<PgClientOf<Pool>> {
  if (pool === null || typeof pool !== 'object' || typeof pool.connect !== 'function') {
    throw new ConfigurationError(
      'pgDatabase() needs a node-postgres Pool (new pg.Pool(...)): the value given has no connect() method.',
    )
  }
  checkOptionNames(options ?? {}, DATABASE_OPTIONS, 'pgDatabase()')
  const name = validateDatabaseName(options?.name)
  return {
    name,
    identity: nodePostgresIdentity(pool),
    dialect: postgresDialect,
    driver: nodePostgresAdapter,
    acquire() {
      return checkOut(pool) as Promise<PgConnection<PgClientOf<Pool>>>
    },
  }
}
