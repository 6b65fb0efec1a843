import { errno, findErrorProperty, SOCKET_ERROR_CODES } from '../dialect/error-code.js'
import type { ErrorPredicates } from '../dialect/error-predicates.js'
import {
  registerTransientErrorCodes,
  type TransientErrorCodes,
  transient,
} from '../dialect/transient-errors.js'

export { errno }

export const ER_XAER_NOTA = 1397
export const ER_DUP_ENTRY = 1062
export const ER_NO_SUCH_TABLE = 1146
export const ER_LOCK_WAIT_TIMEOUT = 1205
/**
 * Two inserts of a key that a third session inserted uncommitted both wait; should it roll back,
 * InnoDB picks one as a deadlock victim: for a claim or an abort decision, a wait that ended.
 */
export const ER_LOCK_DEADLOCK = 1213
const CONNECTION_LOST_ERRNOS = new Set([
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED (MariaDB)
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
])
const CONNECTION_LOST_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST', // mysql2
  'ER_CONNECTION_KILLED',
  'ER_SERVER_SHUTDOWN',
  'ER_SOCKET_UNEXPECTED_CLOSE', // the mariadb connector
  'ER_CONNECTION_ALREADY_CLOSED',
  'ER_CMD_CONNECTION_CLOSED',
  'ER_SOCKET_TIMEOUT',
  ...SOCKET_ERROR_CODES,
])

const TRANSIENT_ERRNOS = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT (the statement only, unless innodb_rollback_on_timeout)
  1213, // ER_LOCK_DEADLOCK (the whole transaction)
  3572, // ER_LOCK_NOWAIT
  3024, // ER_QUERY_TIMEOUT (MySQL MAX_EXECUTION_TIME)
  1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  1040, // ER_CON_COUNT_ERROR
  1317, // ER_QUERY_INTERRUPTED
])

/**
 * MySQL's and MariaDB's transient errors for the runner, by errno: a deadlock undoes the whole
 * transaction, a lock wait or statement timeout the statement; lost sessions, and mysql2's report
 * of one.
 */
export const mysqlTransientErrorCodes: TransientErrorCodes = {
  classify(error) {
    const { code, errno: number } = error
    if (typeof number === 'number') {
      if (CONNECTION_LOST_ERRNOS.has(number)) return transient(String(number), 'connection')
      if (TRANSIENT_ERRNOS.has(number)) {
        return transient(String(number), number === ER_LOCK_DEADLOCK ? 'transaction' : 'statement')
      }
    }
    if (code === 'PROTOCOL_CONNECTION_LOST') return transient(code, 'connection')
    return undefined
  },
}

registerTransientErrorCodes(mysqlTransientErrorCodes)

/** What MySQL's and MariaDB's errnos (and their drivers' codes) mean to the protocols and recovery. */
export const mysqlErrorPredicates: ErrorPredicates = {
  isConnectionLost(error) {
    const number = errno(error)
    if (number !== undefined && CONNECTION_LOST_ERRNOS.has(number)) return true
    const code = findErrorProperty(error, 'code')
    return typeof code === 'string' && CONNECTION_LOST_CODES.has(code)
  },

  isUndefinedTable(error) {
    return errno(error) === ER_NO_SUCH_TABLE
  },

  async explainPrepareFailure() {
    return undefined
  },
}
