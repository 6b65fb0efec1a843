import { isOutcomeUnknownError } from '../errors/outcome-unknown-error.js'

/** What a database error means for a retry. */
export interface ErrorClassification {
  /** Running the work again may succeed (a conflict, a timeout, a lost connection). */
  readonly transient: boolean
  /** The code that decided it: SQLSTATE, errno, driver or ORM code. */
  readonly code?: string
  /**
   * What the error undid:
   * - `statement`: only the failing statement (rolling back to a savepoint recovers);
   * - `transaction`: the server rolled back the whole transaction (MySQL/MariaDB deadlock 1213);
   * - `connection`: the session is gone, and its transaction with it.
   */
  readonly scope: 'statement' | 'transaction' | 'connection'
}

// PostgreSQL: serialization_failure, deadlock_detected, lock_not_available, query_canceled (a
// statement_timeout), admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections.
const PG_TRANSIENT = new Set([
  '40001',
  '40P01',
  '55P03',
  '57014',
  '57P01',
  '57P02',
  '57P03',
  '53300',
])
const PG_SESSION_ENDED = new Set(['57P01', '57P02', '57P03'])

// MySQL / MariaDB errno.
const MYSQL_DEADLOCK = 1213
const MYSQL_TRANSIENT = new Set([
  1205, // ER_LOCK_WAIT_TIMEOUT (the statement only, unless innodb_rollback_on_timeout)
  1213, // ER_LOCK_DEADLOCK (the whole transaction)
  3572, // ER_LOCK_NOWAIT
  3024, // ER_QUERY_TIMEOUT (MySQL MAX_EXECUTION_TIME)
  1969, // ER_STATEMENT_TIMEOUT (MariaDB max_statement_time)
  1040, // ER_CON_COUNT_ERROR
  1317, // ER_QUERY_INTERRUPTED
])
const MYSQL_CONNECTION_LOST = new Set([
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED (MariaDB)
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  4031, // ER_CLIENT_INTERACTION_TIMEOUT
])

// Codes pure-JS drivers and Node use for a connection that went away.
const CONNECTION_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST', // mysql2
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTCONN',
  'CONNECTION_CLOSED', // postgres.js
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
])

// SQLite (better-sqlite3 codes): another connection holds the lock.
const SQLITE_TRANSIENT = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED'])

// Prisma: P2034 a write conflict or deadlock; P1001 / P1017 the server cannot be reached / closed.
const PRISMA_TRANSIENT = new Set(['P2034'])
const PRISMA_CONNECTION = new Set(['P1001', 'P1017'])

// node-postgres reports a socket gone mid-query with these messages and no code at all.
const PG_CLIENT_LOSS = /Connection terminated|not queryable|Connection ended/

/** Where ORMs and query builders keep the driver's error. */
const WRAPPED = ['cause', 'driverError', 'original', 'parent', 'nativeError', 'originalError']

const PERMANENT: ErrorClassification = { transient: false, scope: 'statement' }

/**
 * Classifies an error thrown by a database driver, directly or wrapped by an ORM (Drizzle's and
 * Kysely's `cause`, TypeORM's `driverError`, Sequelize's `original`, Knex's driver error), by code
 * and never by message (except node-postgres's code-less socket loss).
 *
 * @example
 * ```ts
 * classifyError(Object.assign(new Error('Deadlock found'), { errno: 1213 }))
 * // { transient: true, code: '1213', scope: 'transaction' }
 * ```
 */
export function classifyError(error: unknown): ErrorClassification {
  if (isOutcomeUnknownError(error)) return PERMANENT
  const seen = new Set<unknown>()
  const pending: unknown[] = [error]
  while (pending.length > 0 && seen.size < 16) {
    const current = pending.shift()
    if (current === null || typeof current !== 'object' || seen.has(current)) continue
    seen.add(current)
    const found = classifyOne(current as Record<string, unknown>)
    if (found !== undefined) return found
    for (const property of WRAPPED) pending.push((current as Record<string, unknown>)[property])
  }
  return PERMANENT
}

function classifyOne(error: Record<string, unknown>): ErrorClassification | undefined {
  const { code, errno } = error
  if (typeof errno === 'number') {
    if (MYSQL_CONNECTION_LOST.has(errno)) return lost(String(errno))
    if (MYSQL_TRANSIENT.has(errno)) {
      return {
        transient: true,
        code: String(errno),
        scope: errno === MYSQL_DEADLOCK ? 'transaction' : 'statement',
      }
    }
  }
  if (typeof code === 'string') {
    if (CONNECTION_CODES.has(code) || PRISMA_CONNECTION.has(code)) return lost(code)
    if (/^[0-9A-Z]{5}$/.test(code)) {
      if (code.startsWith('08') || PG_SESSION_ENDED.has(code)) return lost(code)
      if (PG_TRANSIENT.has(code)) return { transient: true, code, scope: 'statement' }
    }
    if (SQLITE_TRANSIENT.has(code)) return { transient: true, code, scope: 'statement' }
    if (PRISMA_TRANSIENT.has(code)) return { transient: true, code, scope: 'transaction' }
  }
  if (
    code === undefined &&
    typeof error.message === 'string' &&
    error instanceof Error &&
    PG_CLIENT_LOSS.test(error.message)
  ) {
    return lost('connection-terminated')
  }
  return undefined
}

function lost(code: string): ErrorClassification {
  return { transient: true, code, scope: 'connection' }
}

/**
 * True when running the work again may succeed: serialization failures, deadlocks, lock and
 * statement timeouts, lost connections, a busy SQLite database (see {@link classifyError}). Never
 * for an outcome-unknown commit.
 *
 * @example
 * ```ts
 * try { await work() } catch (e) { if (isTransientError(e)) scheduleRetry() else throw e }
 * ```
 */
export function isTransientError(error: unknown): boolean {
  return classifyError(error).transient
}
