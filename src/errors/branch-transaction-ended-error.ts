import type { BranchReport } from './branch-report.js'
import { TransactionOutcomeError } from './transaction-outcome-error.js'

/**
 * The transaction is not atomic: a branch was found outside its transaction, ended by something
 * txkit did not send (a `COMMIT` or `ROLLBACK` on the branch's connection reached by another path
 * than txkit's handles). That branch's work may already be committed, and nothing txkit does can
 * undo it. No commit decision was written and every other branch was rolled back. `databases`
 * names the branches concerned: check their data by hand.
 */
export class BranchTransactionEndedError extends TransactionOutcomeError {
  override readonly code = 'TXKIT_BRANCH_TRANSACTION_ENDED'
  readonly isBranchTransactionEndedError = true

  /** The stable names of the databases whose branch was found outside its transaction. */
  readonly databases: readonly string[]

  constructor(
    gtrid: string,
    branches: readonly BranchReport[],
    databases: readonly string[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(gtrid, branches, message, options)
    this.databases = databases
  }
}

/**
 * True when `e` is a {@link BranchTransactionEndedError}, even from another copy of txkit.
 *
 * @example
 * ```ts
 * try {
 *   await coordinator.transaction(dbs, work)
 * } catch (e) {
 *   if (isBranchTransactionEndedError(e)) alert(`check ${e.databases.join(', ')} by hand`)
 *   throw e
 * }
 * ```
 */
export function isBranchTransactionEndedError(e: unknown): e is BranchTransactionEndedError {
  return (
    e instanceof Error &&
    (e as Partial<BranchTransactionEndedError>).isBranchTransactionEndedError === true
  )
}
