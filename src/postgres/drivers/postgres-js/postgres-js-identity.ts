import {
  connectionIdentity,
  type PoolIdentity,
  poolObjectIdentity,
} from '../../../driver/connection-identity.js'
import type { PostgresJsListen, PostgresJsReservedLike } from './postgres-js-connection.js'

/** The part of a postgres.js `Sql` instance (`postgres(url)`) txkit uses. */
export interface PostgresJsSqlLike<
  Reserved extends PostgresJsReservedLike = PostgresJsReservedLike,
> {
  reserve(): Promise<Reserved>
  /** LISTEN on a connection of the instance's own (postgres.js 3 and 4). */
  listen?: PostgresJsListen
  readonly options?: {
    readonly host?: readonly string[] | string
    readonly port?: readonly number[] | number
    /** postgres.js 4: `null` when none is named and the user is a function. */
    readonly database?: string | null
    /** postgres.js 4 also takes a function answering the user's name. */
    readonly user?: unknown
  }
}

function first<Value>(value: readonly Value[] | Value | undefined): Value | undefined {
  return Array.isArray(value) ? (value as readonly Value[])[0] : (value as Value | undefined)
}

/** Where a postgres.js instance's connections go, from its parsed options. */
export const postgresJsIdentity: PoolIdentity<PostgresJsSqlLike> = (sql) => {
  const options = sql.options
  // postgres.js 4 takes the user as a function too: who connects is then not known here, so the
  // instance is its own identity (two of them are never taken for one database).
  if (options === undefined || typeof options.user !== 'string') {
    return poolObjectIdentity('postgres', sql)
  }
  return connectionIdentity('postgres', {
    host: first(options.host),
    port: first(options.port) ?? 5432,
    database: options.database ?? options.user,
    user: options.user,
  })
}
