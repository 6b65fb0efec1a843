import { outcomeUnknown, rollBackEverything, rolledBack } from './abort.js'
import { commitBranch, prepareBranch } from './branch-steps.js'
import type { CommitContext } from './commit-context.js'
import type { CommitResult } from './commit-result.js'

/**
 * sqlalchemy-xa-recovery's order: prepare branch 0, 1, … n-1, then commit 0, 1, … n-1; on failure
 * roll back from n-1 down to 0. Its recovery infers the outcome from which branches are still
 * prepared: a prefix rolls back, a suffix commits. That inference is only right if no coordinator
 * stalls longer than the recovery's grace period; use it for compatibility with Python writers and
 * workers, or where no decision table can be created.
 */
export async function commitSequentially(context: CommitContext): Promise<CommitResult> {
  const last = context.branches.length - 1
  for (const branch of context.branches) {
    try {
      await prepareBranch(context, branch)
    } catch (error) {
      await rollBackEverything(context, 'descending')
      // Every branch may be prepared if the last prepare's answer was lost: by the prefix/suffix
      // rule, recovery would then commit.
      if (branch.index === last && branch.state === 'unknown') {
        throw outcomeUnknown(
          context,
          'the connection was lost while preparing the last branch',
          error,
        )
      }
      throw rolledBack(context, `branch "${branch.names[0]}" failed to prepare`, error)
    }
  }
  for (const branch of context.branches) {
    await commitBranch(context, branch)
    if (branch.state !== 'committed') {
      // Stop here: the branches still prepared form a suffix, which the seed's recovery commits.
      // Committing further would leave a set it calls invalid.
      throw outcomeUnknown(
        context,
        `branch "${branch.names[0]}" could not be committed`,
        branch.error ?? new Error('no answer'),
      )
    }
  }
  const branches = context.branches.map((branch) => branch.report())
  return { gtrid: context.gtrid, protocol: 'sequential', branches, pending: [] }
}
