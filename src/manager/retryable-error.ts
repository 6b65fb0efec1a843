import { isOutcomeUnknownError } from '../errors/outcome-unknown-error.js'

// PostgreSQL serialization_failure, deadlock_detected; MySQL/MariaDB ER_LOCK_DEADLOCK (the whole
// transaction was rolled back). Rerunning the whole transaction is the documented remedy for each.
const RETRYABLE_SQLSTATES = new Set(['40001', '40P01'])
const RETRYABLE_ERRNOS = new Set([1213])

/**
 * Whether rerunning the whole transaction may succeed: a serialization failure or a deadlock,
 * found anywhere in the error's `cause` chain (a rolled-back commit carries the database's error as
 * its cause). Never for an outcome-unknown commit: it may have committed.
 *
 * @example
 * ```ts
 * isRetryableTransactionError(Object.assign(new Error('could not serialize'), { code: '40001' })) // true
 * ```
 */
export function isRetryableTransactionError(error: unknown): boolean {
  if (isOutcomeUnknownError(error)) return false
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
    const code = (current as { code?: unknown }).code
    const errno = (current as { errno?: unknown }).errno
    if (typeof code === 'string' && RETRYABLE_SQLSTATES.has(code)) return true
    if (typeof errno === 'number' && RETRYABLE_ERRNOS.has(errno)) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}
