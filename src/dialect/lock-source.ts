import type { DriverConnection } from '../driver/driver-connection.js'
import type { LockDialect } from './lock-dialect.js'

/**
 * Where locks are taken: sessions of one database and the SQL its locks need. txkit database
 * handles (`pgDatabase`, `postgresJsDatabase`, `mysqlDatabase`, `mariadbDatabase`), `mssqlLockSource`
 * and `oracleLockSource` are lock sources; a driver's pool is wrapped by one of those first.
 */
export interface LockSource {
  /** Where the sessions go, without any password; two sources with one identity share locks. */
  readonly identity: string
  readonly lockDialect: LockDialect
  /** Checks a dedicated session out; the lock gives it back (or closes it) when done. */
  acquire(): Promise<DriverConnection>
}

const registered: { readonly dialect: LockDialect; readonly hints: readonly string[] }[] = []

/**
 * Records a vendor's lock dialect, with how a pool of its drivers becomes a lock source
 * (`pgDatabase(pool, { name }) from "txkit/node-postgres"`), for messages of lock/ that must not
 * name a database themselves: the one refusing a value that is no lock source, the one refusing
 * fencing tokens. Each vendor's lock dialect registers itself when loaded.
 */
export function registerLockDialect(dialect: LockDialect, hints: readonly string[]): void {
  if (!registered.some((entry) => entry.dialect === dialect)) registered.push({ dialect, hints })
}

/** The hints of every lock dialect loaded, in the order they were registered. */
export function lockSourceHints(): readonly string[] {
  return registered.flatMap((entry) => entry.hints)
}

/** Every lock dialect loaded, in the order they were registered. */
export function registeredLockDialects(): readonly LockDialect[] {
  return registered.map((entry) => entry.dialect)
}
