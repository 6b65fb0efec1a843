import { isCommitOutcomeUnknownError } from '../errors/commit-outcome-unknown-error.js'
import { isOutcomeUnknownError } from '../errors/outcome-unknown-error.js'
import { isRetryTransactionError } from '../errors/retry-transaction-error.js'
import { isRunAbortedError } from '../errors/run-aborted-error.js'
import { isTransientError } from '../runner/transient-error.js'

/**
 * Whether rerunning the whole transaction may succeed: the runner asked for it
 * (`RetryTransactionError`), or the failure is transient by `isTransientError` (a serialization
 * failure, a deadlock, a lock or statement timeout, a lost connection), found anywhere in the
 * error's chain (a rolled-back commit carries the database's error as its cause). Never for a
 * commit whose outcome is unknown: it may have committed.
 *
 * @example
 * ```ts
 * isRetryableTransactionError(Object.assign(new Error('could not serialize'), { code: '40001' })) // true
 * ```
 */
export function isRetryableTransactionError(error: unknown): boolean {
  if (
    isOutcomeUnknownError(error) ||
    isCommitOutcomeUnknownError(error) ||
    isRunAbortedError(error)
  ) {
    return false
  }
  return isRetryTransactionError(error) || isTransientError(error)
}
