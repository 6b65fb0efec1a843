import type { TraceSpan } from '../tracing/span.js'
import type { Logger } from '../util/logger.js'
import type { CommitProtocolName } from '../xid/xid.js'
import type { BackgroundCommits } from './background-commits.js'
import type { Branch } from './branch.js'
import type { ProtocolStepObserver } from './protocol-step.js'
import type { RunOutbox } from './run-outbox.js'

/**
 * What every protocol's steps of one transaction read: its id, its branches and the coordinator's
 * settings. Nothing here is a protocol's own state (each protocol folder keeps its own type); only
 * `branches` grows, as branches join.
 */
export interface TransactionRun {
  readonly gtrid: string
  readonly protocol: CommitProtocolName
  /** In branch index order. */
  readonly branches: Branch[]
  /** After this instant (ms since the epoch, by the decision database's clock) no commit. */
  readonly deadline: number
  readonly logger: Logger
  readonly onStep: ProtocolStepObserver | undefined
  /** The transaction's `txkit.transaction` span, when tracing is on. */
  readonly span: TraceSpan | undefined
  /** Where commits acknowledged at their decision are finished. */
  readonly background: BackgroundCommits
  /** The messages it sends, when its coordinator has an outbox. */
  readonly outbox: RunOutbox | undefined
}

/**
 * The branches' stable database names, at their branch index (`null` where a join failed and left
 * its index unused): what a decision row's `participants` lists.
 */
export function participantNames(run: TransactionRun): Array<string | null> {
  const names: Array<string | null> = []
  for (const branch of run.branches) names[branch.index] = branch.database.name
  return Array.from(names, (name) => name ?? null)
}
