import type { Dialect } from '../dialect/dialect.js'
import type { LockDialect } from '../dialect/lock-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { databaseOfPool } from '../driver/pool-database.js'
import { ConfigurationError } from '../errors/configuration-error.js'

/**
 * Where locks are taken: sessions of one database and the SQL its locks need. txkit database
 * handles (`pgDatabase`, `mysqlDatabase`), `mssqlLockSource` and `oracleLockSource` are lock
 * sources; node-postgres and mysql2 pools are accepted as they are.
 */
export interface LockSource {
  /** Where the sessions go, without any password; two sources with one identity share locks. */
  readonly identity: string
  readonly lockDialect: LockDialect
  /** Checks a dedicated session out; the lock gives it back (or closes it) when done. */
  acquire(): Promise<DriverConnection>
}

/** What can be given where a lock source is expected. */
export type LockSourceLike = LockSource | object

interface DatabaseShape {
  readonly identity: string
  readonly dialect: Dialect
  acquire(): Promise<DriverConnection>
}

const cache = new WeakMap<object, LockSource>()

/** The lock source behind a handle or a driver pool. */
export function toLockSource(value: unknown): LockSource {
  if (value === null || typeof value !== 'object') throw notASource(value)
  const known = cache.get(value)
  if (known !== undefined) return known
  const source = resolve(value)
  cache.set(value, source)
  return source
}

function resolve(value: object): LockSource {
  const shape = value as Partial<LockSource & DatabaseShape> & Record<string, unknown>
  if (typeof shape.acquire === 'function') {
    if (shape.lockDialect !== undefined) return value as LockSource
    if (shape.dialect !== undefined) {
      const lockDialect = shape.dialect.locks
      if (lockDialect === undefined) {
        throw new ConfigurationError(
          `${shape.dialect.displayName} has no database locks in txkit (a user-written resource cannot lock).`,
        )
      }
      const database = value as DatabaseShape
      return {
        identity: database.identity,
        lockDialect,
        acquire: () => database.acquire(),
      }
    }
  }
  const database = databaseOfPool(value)
  if (database !== undefined) return resolve(database)
  throw notASource(value)
}

function notASource(value: unknown): ConfigurationError {
  const kind = value === null ? 'null' : typeof value
  return new ConfigurationError(
    `Locks need a database: a node-postgres Pool, a mysql2 pool, a txkit handle (pgDatabase, mysqlDatabase), mssqlLockSource(pool) or oracleLockSource(pool); got ${kind}.`,
  )
}
