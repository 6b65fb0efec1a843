import { BranchTransactionEndedError } from '../errors/branch-transaction-ended-error.js'
import { OutcomeUnknownError } from '../errors/outcome-unknown-error.js'
import { TransactionRolledBackError } from '../errors/transaction-rolled-back-error.js'
import { errorMessage } from '../util/error-message.js'
import type { Branch } from './branch.js'
import { rollbackBranch } from './branch-steps.js'
import type { TransactionRun } from './transaction-run.js'

/** Rolls back every branch, in parallel or from the last to the first. Never throws. */
export async function rollBackEverything(
  run: TransactionRun,
  order: 'parallel' | 'descending',
): Promise<void> {
  if (order === 'parallel') {
    await Promise.all(run.branches.map((branch) => rollbackBranch(run, branch)))
    return
  }
  for (const branch of [...run.branches].reverse()) {
    await rollbackBranch(run, branch)
  }
}

function branchesIn(run: TransactionRun, states: readonly string[]): Branch[] {
  return run.branches.filter((branch) => states.includes(branch.state))
}

function listOf(branches: readonly Branch[]): string {
  return branches.map((branch) => `"${branch.names[0]}"`).join(', ')
}

/**
 * The error for a transaction txkit rolled back: `TransactionRolledBackError` when nothing is
 * committed anywhere, and `BranchTransactionEndedError` when a branch turned out to be outside its
 * transaction, whose work may be committed whatever txkit did: never "rolled back" then.
 */
export function rolledBack(
  run: TransactionRun,
  reason: string,
  cause: unknown,
): TransactionRolledBackError | BranchTransactionEndedError {
  const reports = run.branches.map((branch) => branch.report())
  const ended = branchesIn(run, ['ended-elsewhere'])
  if (ended.length > 0) {
    const databases = ended.map((branch) => branch.database.name)
    return new BranchTransactionEndedError(
      run.gtrid,
      reports,
      databases,
      `Transaction ${run.gtrid} is not atomic: the branch of database(s) ${databases.map((name) => `"${name}"`).join(', ')} ` +
        'was found outside its transaction, ended by a COMMIT or ROLLBACK that txkit did not send (its connection ' +
        'was reached another way than through the branch handle). Its work may already be committed; ' +
        'txkit cannot undo it. No commit decision was written and every other branch was rolled back. ' +
        `Check ${databases.length > 1 ? 'those databases' : 'that database'} by hand. (${reason}: ${errorMessage(cause)})`,
      { cause },
    )
  }
  const unreachable = listOf(branchesIn(run, ['prepared', 'unknown']))
  const leftover =
    unreachable === ''
      ? ''
      : ` Branch(es) ${unreachable} could not be reached to confirm the rollback; recovery rolls them back.`
  return new TransactionRolledBackError(
    run.gtrid,
    reports,
    `Transaction ${run.gtrid} was rolled back: ${reason}: ${errorMessage(cause)}.${leftover}`,
    { cause },
  )
}

/** The error for a transaction whose outcome this process cannot know. */
export function outcomeUnknown(
  run: TransactionRun,
  reason: string,
  cause: unknown,
): OutcomeUnknownError {
  const prepared = branchesIn(run, ['prepared'])
  const cutOff = branchesIn(run, ['unknown'])
  const parts = [
    prepared.length > 0 ? `branch(es) ${listOf(prepared)} stay prepared` : '',
    cutOff.length > 0
      ? `branch(es) ${listOf(cutOff)} were cut off before their step was confirmed`
      : '',
  ].filter((part) => part !== '')
  return new OutcomeUnknownError(
    run.gtrid,
    run.branches.map((branch) => branch.report()),
    `The outcome of transaction ${run.gtrid} is unknown: ${reason}: ${errorMessage(cause)}. ` +
      `Nothing was rolled back${parts.length > 0 ? `; ${parts.join(', and ')}` : ''}. Recovery finishes every branch the same way, following the decision record.`,
    { cause },
  )
}
