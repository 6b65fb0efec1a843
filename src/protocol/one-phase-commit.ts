import { startSpan } from '../tracing/span.js'
import { rollBackEverything, rolledBack } from './abort.js'
import type { Branch } from './branch.js'
import type { CommitResult } from './commit-result.js'
import { commitInOneStep } from './one-step-commit.js'
import type { TransactionRun } from './transaction-run.js'

/**
 * A transaction with a single branch needs no two-phase commit, whatever its protocol: COMMIT (or
 * XA COMMIT … ONE PHASE) is atomic on its own. No PREPARE, no decision row; a transaction with no
 * branch commits nothing. `committed` lets the protocol forget what its BEGIN wrote along (a fence
 * row, a decision row), which serves no one once the branch is committed.
 */
export async function commitInOnePhase(
  run: TransactionRun,
  committed: (branch: Branch) => void,
): Promise<CommitResult> {
  const [branch] = run.branches
  if (branch !== undefined) {
    const span = startSpan(
      'txkit.commit',
      {
        'txkit.database': branch.database.name,
        'txkit.branch.index': branch.index,
        'txkit.commit.one_phase': true,
      },
      run.span,
    )
    try {
      await run.outbox?.writeBeforeOneStep(run, branch)
    } catch (error) {
      span?.end(error)
      await rollBackEverything(run, 'parallel')
      throw rolledBack(run, 'the outbox messages could not be written', error)
    }
    const outcome = await commitInOneStep(run, branch, 'database').catch((error: unknown) => {
      span?.end(error)
      throw error
    })
    span?.end(outcome === 'committed' ? undefined : outcome[1])
    if (outcome !== 'committed') {
      await rollBackEverything(run, 'parallel')
      throw rolledBack(run, ...outcome)
    }
    committed(branch)
  }
  const branches = run.branches.map((each) => each.report())
  return { gtrid: run.gtrid, protocol: run.protocol, branches, pending: [] }
}
