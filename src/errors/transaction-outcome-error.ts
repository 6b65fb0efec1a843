import type { BranchReport } from './branch-report.js'
import { TxkitError } from './txkit-error.js'

/** An error about how a transaction ended: it names the transaction and every branch's state. */
export abstract class TransactionOutcomeError extends TxkitError {
  /** The global transaction id shared by every branch's XID. */
  readonly gtrid: string
  readonly branches: readonly BranchReport[]

  constructor(
    gtrid: string,
    branches: readonly BranchReport[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.gtrid = gtrid
    this.branches = branches
  }
}
