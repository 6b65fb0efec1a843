import { type DecisionInsertOutcome, UnconfirmedAnswer } from '../dialect/dialect.js'
import { startSpan } from '../tracing/span.js'
import { outcomeUnknown, rollBackEverything, rolledBack } from './abort.js'
import type { Branch } from './branch.js'
import { commitBranch, prepareBranch } from './branch-steps.js'
import { afterStep, beforeStep, type CommitContext, participantsOf } from './commit-context.js'
import type { CommitResult } from './commit-result.js'
import { DecisionInsertFailure, type DecisionLog, NOT_INSERTED } from './decision-log.js'
import { commitInOneStep } from './one-step-commit.js'

/**
 * The default protocol (ARCHITECTURE.md, "decision record"): prepare every branch but the decision
 * database's in parallel, commit the decision database's branch in one phase together with the
 * decision row (or insert the row on its own), then commit the prepared branches in parallel.
 * Recovery reads the row and never infers an outcome, so no stall can split a transaction.
 */
export async function commitWithDecision(context: CommitContext): Promise<CommitResult> {
  const decisionLog = context.decisionLog
  if (decisionLog === undefined) throw new TypeError('the decision protocol needs a decision log')
  const participants = participantsOf(context)
  const decisionBranch = context.decisionBranch

  const phaseOne = await Promise.allSettled([
    ...context.branches
      .filter((branch) => branch !== decisionBranch)
      .map((branch) => prepareBranch(context, branch)),
    decisionBranch === undefined || context.decisionInsertedAtBegin
      ? Promise.resolve()
      : insertIntoBranch(context, decisionLog, decisionBranch, participants),
  ])
  const failure = phaseOne.find((result) => result.status === 'rejected')
  if (failure !== undefined) {
    await rollBackEverything(context, 'parallel')
    throw rolledBack(context, 'a branch failed before the decision', failure.reason)
  }

  const span = startSpan(
    'txkit.decision',
    {
      'txkit.database': decisionLog.database.name,
      'txkit.decision.in_branch': decisionBranch !== undefined,
    },
    context.span,
  )
  try {
    if (decisionBranch === undefined) {
      await decideAlone(context, decisionLog, participants)
    } else {
      await decideInBranch(context, decisionBranch)
    }
  } catch (error) {
    span?.end(error)
    throw error
  }
  span?.end()
  await afterStep(context, 'decision')

  const finish = async (): Promise<CommitResult> => {
    await Promise.all(context.branches.map((branch) => commitBranch(context, branch)))
    const result = report(context)
    if (result.pending.length === 0) decisionLog.forget(context.gtrid)
    return result
  }
  if (context.acknowledge === 'decision' && context.background.hasRoom()) {
    // Committed from here on, whatever happens: recovery follows the decision.
    const completion = context.background.track(context.gtrid, finish(), () => report(context))
    return { ...report(context), completion }
  }
  return finish()
}

/** Where the branches stand; `pending` lists those not (yet) committed. */
function report(context: CommitContext): CommitResult {
  const branches = context.branches.map((branch) => branch.report())
  const pending = branches.filter((branch) => branch.state !== 'committed')
  return { gtrid: context.gtrid, protocol: 'decision', branches, pending }
}

async function insertIntoBranch(
  context: CommitContext,
  decisionLog: DecisionLog,
  branch: Branch,
  participants: string,
): Promise<void> {
  let outcome: DecisionInsertOutcome
  try {
    outcome = await decisionLog.insertIn(
      branch.connection,
      context.gtrid,
      participants,
      context.deadline,
    )
  } catch (error) {
    branch.error = decisionLog.explain(error)
    throw branch.error
  }
  if (outcome !== 'inserted') {
    branch.error = new Error(NOT_INSERTED[outcome])
    throw branch.error
  }
}

/** The decision database takes part: its one-phase COMMIT, carrying the 'C' row, decides. */
async function decideInBranch(context: CommitContext, branch: Branch): Promise<void> {
  try {
    await beforeStep(context, 'decision')
  } catch (error) {
    await rollBackEverything(context, 'parallel')
    throw rolledBack(context, 'the decision step failed', error)
  }
  const outcome = await commitInOneStep(context, branch, 'the decision database')
  if (outcome !== 'committed') {
    await rollBackEverything(context, 'parallel')
    throw rolledBack(context, ...outcome)
  }
}

/** The decision database does not take part: the 'C' row is inserted on its own. */
async function decideAlone(
  context: CommitContext,
  decisionLog: DecisionLog,
  participants: string,
): Promise<void> {
  let outcome: DecisionInsertOutcome
  try {
    await beforeStep(context, 'decision')
    outcome = await decisionLog.insertAlone(context.gtrid, participants, context.deadline)
  } catch (error) {
    if (error instanceof DecisionInsertFailure && error.lost) {
      throw outcomeUnknown(
        context,
        error.cause instanceof UnconfirmedAnswer
          ? `the decision database "${decisionLog.database.name}" did not confirm the decision: ${error.cause.message}`
          : `the connection to the decision database "${decisionLog.database.name}" was lost while recording the decision`,
        error.cause,
      )
    }
    const cause = error instanceof DecisionInsertFailure ? decisionLog.explain(error.cause) : error
    await rollBackEverything(context, 'parallel')
    throw rolledBack(context, 'the commit decision could not be recorded', cause)
  }
  if (outcome !== 'inserted') {
    await rollBackEverything(context, 'parallel')
    throw rolledBack(context, 'the commit decision was refused', new Error(NOT_INSERTED[outcome]))
  }
}
