import { outcomeUnknown, rollBackEverything, rolledBack } from './abort.js'
import type { CommitContext } from './commit-context.js'
import type { CommitResult } from './commit-result.js'

/**
 * A transaction with a single branch needs no two-phase commit: COMMIT (or XA COMMIT … ONE PHASE)
 * is atomic on its own. No PREPARE, no decision row; a transaction with no branch commits nothing.
 */
export async function commitInOnePhase(context: CommitContext): Promise<CommitResult> {
  const [branch] = context.branches
  if (branch !== undefined) {
    let outcome: string
    try {
      outcome = await branch.dialect.commitOnePhase(branch.connection, branch.xid)
    } catch (error) {
      branch.error = error
      if (branch.isLost(error)) {
        branch.state = 'unknown'
        throw outcomeUnknown(context, 'the connection was lost during the one-phase COMMIT', error)
      }
      await rollBackEverything(context, 'parallel')
      throw rolledBack(context, `${branch.dialect.displayName} refused to commit`, error)
    }
    if (outcome !== 'committed') {
      branch.state = 'rolled-back'
      throw rolledBack(
        context,
        `${branch.dialect.displayName} rolled the transaction back`,
        new Error(
          `a statement in branch "${branch.names[0]}" had failed (an error caught and ignored inside the transaction leaves it failed)`,
        ),
      )
    }
    branch.state = 'committed'
    // A decision row written with BEGIN committed along: it serves no one.
    if (branch === context.decisionBranch && context.decisionInsertedAtBegin) {
      context.decisionLog?.forget(context.gtrid)
    }
  }
  const branches = context.branches.map((each) => each.report())
  return { gtrid: context.gtrid, protocol: context.protocol, branches, pending: [] }
}
