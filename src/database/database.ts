import type { Dialect } from '../dialect/dialect.js'
import type { LockMode } from '../dialect/lock-dialect.js'
import type { DriverAdapter } from '../driver/driver-adapter.js'
import type { DriverConnection } from '../driver/driver-connection.js'

/**
 * A database taking part in transactions: a user's pool wrapped with a stable name. Create one with
 * a driver's entry point: `pgDatabase` (`txkit/node-postgres`),
 * `postgresJsDatabase` (`txkit/postgres-js`), `mysqlDatabase` (`txkit/mysql2`), `mariadbDatabase` (`txkit/mariadb`).
 */
export interface Database<Raw = unknown> {
  /**
   * The stable name of this database in the deployment. It is written into the decision record so
   * that recovery knows which databases a transaction spans: do not rename a database while
   * transactions may be in doubt.
   */
  readonly name: string
  /**
   * Where the connections go, without any password (`postgres://app@db1:5432/orders`). Two handles
   * with the same identity are one database and share one branch.
   */
  readonly identity: string
  readonly dialect: Dialect
  /**
   * Type-level only (never set): the lock modes this database's locks have, where fewer than
   * PostgreSQL's, so that `createLock(mysql, key, { mode: 'shared' })` does not compile.
   */
  readonly lockModes?: readonly LockMode[]
  /**
   * The driver the connections come from, as tool integrations may know it; absent for a
   * participant of no driver (a resource).
   */
  readonly driver?: DriverAdapter
  /** Checks a dedicated connection out of the pool. */
  acquire(): Promise<DriverConnection<Raw>>
}
