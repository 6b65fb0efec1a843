import { OutcomeUnknownError } from '../errors/outcome-unknown-error.js'
import { TransactionRolledBackError } from '../errors/transaction-rolled-back-error.js'
import { errorMessage } from '../util/error-message.js'
import { rollbackBranch } from './branch-steps.js'
import type { CommitContext } from './commit-context.js'

/** Rolls back every branch, in parallel or from the last to the first. Never throws. */
export async function rollBackEverything(
  context: CommitContext,
  order: 'parallel' | 'descending',
): Promise<void> {
  if (order === 'parallel') {
    await Promise.all(context.branches.map(rollbackBranch))
    return
  }
  for (const branch of [...context.branches].reverse()) {
    await rollbackBranch(branch)
  }
}

function branchList(context: CommitContext, states: readonly string[]): string {
  return context.branches
    .filter((branch) => states.includes(branch.state))
    .map((branch) => `"${branch.names[0]}"`)
    .join(', ')
}

/** The error for a transaction that is definitely rolled back everywhere. */
export function rolledBack(
  context: CommitContext,
  reason: string,
  cause: unknown,
): TransactionRolledBackError {
  const unreachable = branchList(context, ['prepared', 'unknown'])
  const leftover =
    unreachable === ''
      ? ''
      : ` Branch(es) ${unreachable} could not be reached to confirm the rollback; recovery rolls them back.`
  return new TransactionRolledBackError(
    context.gtrid,
    context.branches.map((branch) => branch.report()),
    `Transaction ${context.gtrid} was rolled back: ${reason}: ${errorMessage(cause)}.${leftover}`,
    { cause },
  )
}

/** The error for a transaction whose outcome this process cannot know. */
export function outcomeUnknown(
  context: CommitContext,
  reason: string,
  cause: unknown,
): OutcomeUnknownError {
  const prepared = branchList(context, ['prepared', 'unknown'])
  return new OutcomeUnknownError(
    context.gtrid,
    context.branches.map((branch) => branch.report()),
    `The outcome of transaction ${context.gtrid} is unknown: ${reason}: ${errorMessage(cause)}. ` +
      `Nothing was rolled back; branch(es) ${prepared || '(none)'} stay prepared until recovery finishes them all the same way.`,
    { cause },
  )
}
