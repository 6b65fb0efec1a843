import { TxkitError } from './txkit-error.js'

/**
 * The connection was lost while COMMIT was on its way: the transaction may have committed or not,
 * and this process cannot tell. The runner never retries it (a retry could apply the work twice);
 * check the data, or make the work idempotent. `cause` is the driver's error.
 */
export class CommitOutcomeUnknownError extends TxkitError {
  override readonly code = 'TXKIT_COMMIT_OUTCOME_UNKNOWN'
  readonly isCommitOutcomeUnknownError = true
}

/**
 * True when `e` is a {@link CommitOutcomeUnknownError}.
 *
 * @example
 * ```ts
 * await runner.run(pool, insertPayment).catch((e) => { if (isCommitOutcomeUnknownError(e)) reconcile() })
 * ```
 */
export function isCommitOutcomeUnknownError(e: unknown): e is CommitOutcomeUnknownError {
  return (
    e instanceof Error &&
    (e as Partial<CommitOutcomeUnknownError>).isCommitOutcomeUnknownError === true
  )
}
