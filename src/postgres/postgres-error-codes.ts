import { SOCKET_ERROR_CODES, sqlState } from '../dialect/error-code.js'
import type { ErrorPredicates } from '../dialect/error-predicates.js'
import {
  registerTransientErrorCodes,
  type TransientErrorCodes,
  transient,
} from '../dialect/transient-errors.js'

export { sqlState }

export const UNDEFINED_OBJECT = '42704'
export const UNDEFINED_TABLE = '42P01'
export const UNIQUE_VIOLATION = '23505'
export const OBJECT_NOT_IN_PREREQUISITE_STATE = '55000'
export const LOCK_NOT_AVAILABLE = '55P03'
export const CHECK_VIOLATION = '23514'
export const DIVISION_BY_ZERO = '22012'
export const IN_FAILED_SQL_TRANSACTION = '25P02'
/** admin_shutdown, crash_shutdown, cannot_connect_now: the server ended the session. */
const SESSION_ENDED = new Set(['57P01', '57P02', '57P03'])

// serialization_failure, deadlock_detected, lock_not_available, query_canceled (a
// statement_timeout), admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
const TRANSIENT = new Set(['40001', '40P01', '55P03', '57014', '57P01', '57P02', '57P03', '53300'])

// postgres.js's codes for a connection that went away.
const CLIENT_CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
])

// node-postgres reports a socket gone mid-query with these messages and no code at all.
const CLIENT_LOSS = /Connection terminated|not queryable|Connection ended/

/**
 * PostgreSQL's transient errors for the runner: SQLSTATE conflicts, lock and statement timeouts,
 * sessions the server ended (class 08, 57P01–57P03), and the drivers' own lost-connection reports.
 */
export const postgresTransientErrorCodes: TransientErrorCodes = {
  classify(error) {
    const { code } = error
    if (typeof code === 'string') {
      if (CLIENT_CONNECTION_CODES.has(code)) return transient(code, 'connection')
      if (/^[0-9A-Z]{5}$/.test(code)) {
        if (code.startsWith('08') || SESSION_ENDED.has(code)) return transient(code, 'connection')
        if (TRANSIENT.has(code)) return transient(code, 'statement')
      }
    }
    if (
      code === undefined &&
      typeof error.message === 'string' &&
      error instanceof Error &&
      CLIENT_LOSS.test(error.message)
    ) {
      return transient('connection-terminated', 'connection')
    }
    return undefined
  },
}

registerTransientErrorCodes(postgresTransientErrorCodes)

/** What PostgreSQL's SQLSTATEs mean to the commit protocols and recovery. */
export const postgresErrorPredicates: ErrorPredicates = {
  isConnectionLost(error) {
    const code = sqlState(error)
    if (code === undefined) return false
    return code.startsWith('08') || SESSION_ENDED.has(code) || SOCKET_ERROR_CODES.has(code)
  },

  isUndefinedTable(error) {
    return sqlState(error) === UNDEFINED_TABLE
  },

  isOutcomeRefused(error) {
    return sqlState(error) === CHECK_VIOLATION
  },

  async explainPrepareFailure(connection, error) {
    if (sqlState(error) !== OBJECT_NOT_IN_PREREQUISITE_STATE) return undefined
    // 55000 has other causes (temporary tables, LISTEN): ask the server rather than the message.
    const { rows } = await connection.query<{ max: string }>(
      `SELECT current_setting('max_prepared_transactions') AS max`,
    )
    if (rows[0]?.max !== '0') return undefined
    return (
      'PostgreSQL has max_prepared_transactions = 0, which disables two-phase commit. ' +
      'Set max_prepared_transactions > 0 (at least max_connections) in postgresql.conf and restart the server.'
    )
  },
}
