import { TransactionOutcomeError } from './transaction-outcome-error.js'

/**
 * The commit was cut off at a point where this process cannot know whether the transaction
 * committed (typically the connection to the decision database was lost during the decision).
 * Nothing was rolled back: the prepared branches are left for recovery, which finishes them all
 * the same way. Do not retry blindly; check `branches` or let recovery decide.
 */
export class OutcomeUnknownError extends TransactionOutcomeError {
  override readonly code = 'TXKIT_OUTCOME_UNKNOWN'
  readonly isOutcomeUnknownError = true
}

/**
 * True when `e` is an {@link OutcomeUnknownError}, even from another copy of txkit.
 *
 * @example
 * ```ts
 * try {
 *   await coordinator.transaction(dbs, work)
 * } catch (e) {
 *   if (isOutcomeUnknownError(e)) log.warn({ gtrid: e.gtrid }, 'left for recovery')
 *   else throw e
 * }
 * ```
 */
export function isOutcomeUnknownError(e: unknown): e is OutcomeUnknownError {
  return e instanceof Error && (e as Partial<OutcomeUnknownError>).isOutcomeUnknownError === true
}
