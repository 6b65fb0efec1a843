import {
  type ErrorClassification,
  registeredTransientErrorCodes,
  transient,
} from '../dialect/transient-errors.js'
import { isOutcomeUnknownError } from '../errors/outcome-unknown-error.js'

export type { ErrorClassification }

// Codes Node itself uses for a connection that went away, whatever the driver.
const SOCKET_CODES = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'ENOTCONN'])

// Prisma: P2034 a write conflict or deadlock; P1001 / P1017 the server cannot be reached / closed.
const PRISMA_TRANSIENT = new Set(['P2034'])
const PRISMA_CONNECTION = new Set(['P1001', 'P1017'])

/** Where ORMs and query builders keep the driver's error. */
const WRAPPED = ['cause', 'driverError', 'original', 'parent', 'nativeError', 'originalError']

const PERMANENT: ErrorClassification = { transient: false, scope: 'statement' }

/**
 * Classifies an error thrown by a database driver, directly or wrapped by an ORM (Drizzle's and
 * Kysely's `cause`, TypeORM's `driverError`, Sequelize's `original`, Knex's driver error), by code
 * and never by message (except node-postgres's code-less socket loss). Each database's codes come
 * from its folder (`<db>-error-codes.ts`), registered when the database's txkit entry point is
 * loaded.
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
  const { code } = error
  if (typeof code === 'string') {
    if (SOCKET_CODES.has(code) || PRISMA_CONNECTION.has(code)) return transient(code, 'connection')
  }
  for (const codes of registeredTransientErrorCodes()) {
    const found = codes.classify(error)
    if (found !== undefined) return found
  }
  if (typeof code === 'string' && PRISMA_TRANSIENT.has(code)) {
    return transient(code, 'transaction')
  }
  return undefined
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
