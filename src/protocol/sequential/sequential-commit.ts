import { outcomeUnknown, rollBackEverything, rolledBack } from '../abort.js'
import { commitBranch, prepareBranch } from '../branch-steps.js'
import type { CommitResult } from '../commit-result.js'
import type { TransactionRun } from '../transaction-run.js'

/**
 * sqlalchemy-xa-recovery's order: prepare branch 0, 1, … n-1, then commit 0, 1, … n-1; on failure
 * roll back from n-1 down to 0. Its recovery infers the outcome from which branches are still
 * prepared: a prefix rolls back, a suffix commits. That inference is only right if no coordinator
 * stalls longer than the recovery's grace period; use it for compatibility with Python writers and
 * workers, or where no decision table can be created.
 */
export async function commitSequentially(run: TransactionRun): Promise<CommitResult> {
  const last = run.branches.length - 1
  for (const branch of run.branches) {
    try {
      await prepareBranch(run, branch)
    } catch (error) {
      await rollBackEverything(run, 'descending')
      // Every branch may be prepared if the last prepare's answer was lost: by the prefix/suffix
      // rule, recovery would then commit.
      if (branch.index === last && branch.state === 'unknown') {
        throw outcomeUnknown(run, 'the connection was lost while preparing the last branch', error)
      }
      throw rolledBack(run, `branch "${branch.names[0]}" failed to prepare`, error)
    }
  }
  for (const branch of run.branches) {
    // Under the seed's rule recovery may have rolled a branch back: a "not found" proves nothing.
    await commitBranch(run, branch, false)
    if (branch.state !== 'committed') {
      // Stop here: the branches still prepared form a suffix, which the seed's recovery commits.
      // Committing further would leave a set it calls invalid.
      throw outcomeUnknown(
        run,
        `branch "${branch.names[0]}" could not be committed`,
        branch.error ?? new Error('no answer'),
      )
    }
  }
  const branches = run.branches.map((branch) => branch.report())
  return { gtrid: run.gtrid, protocol: 'sequential', branches, pending: [] }
}
