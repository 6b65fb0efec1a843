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
