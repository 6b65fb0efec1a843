import type { TraceSpan } from '../tracing/span.js'
import type { Logger } from '../util/logger.js'
import type { CommitProtocolName } from '../xid/xid.js'
import type { BackgroundCommits } from './background-commits.js'
import type { Branch } from './branch.js'
import type { Acknowledge } from './commit-result.js'
import type { DecisionLog } from './decision-log.js'
import type { FenceTable } from './fence-table.js'
import type { ProtocolStep, ProtocolStepEvent, ProtocolStepObserver } from './protocol-step.js'
import type { StagingConnection } from './staging-connection.js'

/** What a commit protocol works with: one transaction's branches and the coordinator's settings. */
export interface CommitContext {
  readonly gtrid: string
  readonly protocol: CommitProtocolName
  /** In branch index order. */
  readonly branches: Branch[]
  /** The branch running on the decision database, which commits in one phase; decision only. */
  decisionBranch: Branch | undefined
  readonly decisionLog: DecisionLog | undefined
  /** The fence table of every participating database; parallel protocol only. */
  readonly fences: FenceTable | undefined
  /** Parallel protocol: where the staged row and its turn to 'C' or 'A' are written. */
  readonly staging: StagingConnection | undefined
  /** The 'C' row already rides in the decision branch (inserted with its BEGIN). */
  readonly decisionInsertedAtBegin: boolean
  /** After this instant (ms since the epoch, by the decision database's clock) no commit. */
  readonly deadline: number
  readonly logger: Logger
  readonly onStep: ProtocolStepObserver | undefined
  /** The transaction's `txkit.transaction` span, when tracing is on. */
  readonly span: TraceSpan | undefined
  /** When the commit returns; set per commit. */
  acknowledge: Acknowledge
  /** Where commits acknowledged at their decision are finished. */
  readonly background: BackgroundCommits
}

function event(
  context: CommitContext,
  step: ProtocolStep,
  when: ProtocolStepEvent['when'],
  branch: Branch | undefined,
): ProtocolStepEvent {
  return { step, when, gtrid: context.gtrid, ...(branch && { branch: branch.report() }) }
}

/**
 * Runs the `before` observer of a step; what it throws fails the step. Synchronous (no promise to
 * await) when nobody observes, which is the hot path.
 */
export function beforeStep(
  context: CommitContext,
  step: ProtocolStep,
  branch?: Branch,
): Promise<void> | undefined {
  if (context.onStep === undefined) return undefined
  return observe(context.onStep, event(context, step, 'before', branch))
}

/** Runs the `after` observer of a step; what it throws is logged. */
export function afterStep(
  context: CommitContext,
  step: ProtocolStep,
  branch?: Branch,
): Promise<void> | undefined {
  if (context.onStep === undefined) return undefined
  return observe(context.onStep, event(context, step, 'after', branch)).catch((error: unknown) => {
    context.logger.warn({ gtrid: context.gtrid, step, error }, 'txkit: step observer threw')
  })
}

async function observe(observer: ProtocolStepObserver, event: ProtocolStepEvent): Promise<void> {
  await observer(event)
}

/**
 * The decision row's `participants`: the branches' stable database names, at their branch index
 * (`null` where a join failed and left its index unused).
 */
export function participantsOf(context: CommitContext): string {
  return JSON.stringify(participantNames(context))
}

/**
 * A staged decision row's `participants`: the names as in {@link participantsOf}, and the fence
 * table its branches' fences are in. Recovery claims fences only in that table: a claim in any
 * other (another deployment's, a misconfigured worker's) would succeed while the branch lives, and
 * its 'A' would roll back a transaction that may have been acknowledged.
 */
export function stagedParticipantsOf(context: CommitContext, fenceTable: string): string {
  return JSON.stringify({ branches: participantNames(context), fenceTable })
}

function participantNames(context: CommitContext): Array<string | null> {
  const names: Array<string | null> = []
  for (const branch of context.branches) names[branch.index] = branch.database.name
  return Array.from(names, (name) => name ?? null)
}
