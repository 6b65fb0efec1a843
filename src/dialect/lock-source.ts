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

const hints: string[] = []

/**
 * Records how a pool of a vendor's drivers becomes a lock source (`pgDatabase(pool, { name }) from
 * "txkit/node-postgres"`), for the message that refuses a value that is none. Each vendor's lock
 * dialect registers its own when loaded.
 */
export function registerLockSourceHint(hint: string): void {
  if (!hints.includes(hint)) hints.push(hint)
}

/** The hints of every vendor folder loaded, in the order they were registered. */
export function lockSourceHints(): readonly string[] {
  return hints
}
