import type { RunnerDialect } from '../dialect/runner-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'

/**
 * A session the caller holds and keeps (a client already in a transaction, an embedded database),
 * wrapped by its driver's entry point (`pgSession`, `mysqlSession`, `sqliteSession` …) so that
 * `runner.run` can work on that very session: in a savepoint when it is in a transaction, in a
 * transaction of the runner's own otherwise. The operation receives `connection.raw`.
 */
export interface HeldSession<Raw = unknown> {
  /** Tells a held session apart from a database or a branch handle. */
  readonly kind: 'held-session'
  /** The session; its `release` leaves the caller's session alone. */
  readonly connection: DriverConnection<Raw>
  /** True while the session is inside a transaction the caller opened. */
  inTransaction(): boolean
  /** The runner's dialect for this session's server (asked of the server once where it varies). */
  runnerDialect(): Promise<RunnerDialect>
}

/** True for a value made by a driver's `…Session()` function. */
export function isHeldSession(value: unknown): value is HeldSession {
  return (
    value !== null &&
    typeof value === 'object' &&
    (value as Partial<HeldSession>).kind === 'held-session' &&
    typeof (value as Partial<HeldSession>).runnerDialect === 'function'
  )
}
