import type { BranchReport } from '../errors/branch-report.js'
import type { CommitProtocolName } from '../xid/xid.js'

/** What a successful commit reports. */
export interface CommitResult {
  readonly gtrid: string
  readonly protocol: CommitProtocolName
  readonly branches: readonly BranchReport[]
  /**
   * Branches whose commit could not be confirmed (their connection died after the decision). The
   * transaction is committed all the same: the decision is durable and recovery finishes them.
   * Empty in the normal case.
   */
  readonly pending: readonly BranchReport[]
}
