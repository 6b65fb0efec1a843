import type { DriverConnection } from '../driver/driver-connection.js'

/** What a database's errors mean to the commit protocols and recovery. */
export interface ErrorPredicates {
  /** The error says the session is gone (server-side codes; adapters flag client-side losses). */
  isConnectionLost(error: unknown): boolean
  isUndefinedTable(error: unknown): boolean
  /**
   * The error says a decision table refused a staged ('S') row: made before the parallel
   * protocol existed, its outcome constraint allows only 'C' and 'A'.
   */
  isOutcomeRefused?(error: unknown): boolean
  /**
   * When `error` (thrown by a prepare) means the server refuses two-phase commit, a message that
   * names the setting and the fix; otherwise undefined.
   */
  explainPrepareFailure(connection: DriverConnection, error: unknown): Promise<string | undefined>
}
