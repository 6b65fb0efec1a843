import { startSpan } from '../tracing/span.js'
import { rollBackEverything, rolledBack } from './abort.js'
import type { CommitContext } from './commit-context.js'
import type { CommitResult } from './commit-result.js'
import { commitInOneStep } from './one-step-commit.js'

/**
 * A transaction with a single branch needs no two-phase commit: COMMIT (or XA COMMIT … ONE PHASE)
 * is atomic on its own. No PREPARE, no decision row; a transaction with no branch commits nothing.
 */
export async function commitInOnePhase(context: CommitContext): Promise<CommitResult> {
  const [branch] = context.branches
  if (branch !== undefined) {
    const span = startSpan(
      'txkit.commit',
      {
        'txkit.database': branch.database.name,
        'txkit.branch.index': branch.index,
        'txkit.commit.one_phase': true,
      },
      context.span,
    )
    const outcome = await commitInOneStep(context, branch, 'database').catch((error: unknown) => {
      span?.end(error)
      throw error
    })
    span?.end(outcome === 'committed' ? undefined : outcome[1])
    if (outcome !== 'committed') {
      await rollBackEverything(context, 'parallel')
      throw rolledBack(context, ...outcome)
    }
    // A fence row (an open parallel transaction) committed along: it serves no one.
    if (branch.fenced) {
      context.fences?.forget(branch.database, { gtrid: context.gtrid, index: branch.index })
    }
    // A decision row written with BEGIN committed along: it serves no one.
    if (branch === context.decisionBranch && context.decisionInsertedAtBegin) {
      context.decisionLog?.forget(context.gtrid)
    }
  }
  const branches = context.branches.map((each) => each.report())
  return { gtrid: context.gtrid, protocol: context.protocol, branches, pending: [] }
}
