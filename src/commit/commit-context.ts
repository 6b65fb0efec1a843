import type { Logger } from '../util/logger.js'
import type { CommitProtocolName } from '../xid/xid.js'
import type { Branch } from './branch.js'
import type { DecisionLog } from './decision-log.js'
import type { ProtocolStep, ProtocolStepEvent, ProtocolStepObserver } from './protocol-step.js'

/** What a commit protocol works with: one transaction's branches and the coordinator's settings. */
export interface CommitContext {
  readonly gtrid: string
  readonly protocol: CommitProtocolName
  /** In branch index order. */
  readonly branches: readonly Branch[]
  /** The branch running on the decision database, which commits in one phase; decision only. */
  readonly decisionBranch: Branch | undefined
  readonly decisionLog: DecisionLog | undefined
  /** The database names by branch index, as JSON: the decision row's `participants`. */
  readonly participants: string
  /** The 'C' row already rides in the decision branch (inserted with its BEGIN). */
  readonly decisionInsertedAtBegin: boolean
  /** After this instant (ms since the epoch, by the decision database's clock) no commit. */
  readonly deadline: number
  readonly logger: Logger
  readonly onStep: ProtocolStepObserver | undefined
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
