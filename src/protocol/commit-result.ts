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
  /**
   * Present when the commit was acknowledged at its decision (`acknowledge: 'decision'`): the
   * transaction is committed, and its prepared branches (listed in `pending`) are being committed
   * in the background. Resolves, never rejects, with the final report once they are: `pending`
   * then lists the branches left to recovery.
   */
  readonly completion?: Promise<CommitResult>
}

/**
 * When a commit returns: `commit` (the default) once every branch is committed, `decision` once
 * the decision is durable, the prepared branches being committed in the background.
 */
export type Acknowledge = 'commit' | 'decision'

/** Options of one commit. */
export interface CommitOptions {
  /** Overrides the coordinator's `acknowledge` for this commit. */
  readonly acknowledge?: Acknowledge
}
