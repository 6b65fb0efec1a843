import { type DecisionInsertOutcome, UnconfirmedAnswer } from '../../dialect/dialect.js'
import {
  DecisionInsertFailure,
  type DecisionLog,
  NOT_INSERTED,
} from '../../records/decision-log.js'
import { outcomeUnknown, rollBackEverything, rolledBack } from '../abort.js'
import type { Branch } from '../branch.js'
import { commitBranch, prepareBranch } from '../branch-steps.js'
import type { Acknowledge, CommitResult } from '../commit-result.js'
import { commitInOneStep } from '../one-step-commit.js'
import { runStep } from '../protocol-step.js'
import { participantNames, type TransactionRun } from '../transaction-run.js'
import { type DecisionState, decisionBranchOf } from './decision-state.js'

/**
 * The default protocol (docs/architecture.md, "The decision protocol, and why it cannot split";
 * model/decision.pml): prepare every branch but the decision database's in parallel, commit the
 * decision database's branch in one phase together with the decision row (or insert the row on
 * its own), then commit the prepared branches in parallel. Recovery reads the row and never infers
 * an outcome, so no stall can split a transaction.
 */
export async function commitWithDecision(
  state: DecisionState,
  acknowledge: Acknowledge,
): Promise<CommitResult> {
  const { run, decisionLog } = state
  if (decisionLog === undefined) throw new TypeError('the decision protocol needs a decision log')
  const participants = JSON.stringify(participantNames(run))
  const decisionBranch = decisionBranchOf(state)

  const phaseOne = await Promise.allSettled([
    ...run.branches
      .filter((branch) => branch !== decisionBranch)
      .map((branch) => prepareBranch(run, branch)),
    decisionBranch === undefined
      ? Promise.resolve()
      : (state.insertedAtBegin
          ? Promise.resolve()
          : insertIntoBranch(run, decisionLog, decisionBranch, participants)
        ).then(() => run.outbox?.writeBeforeOneStep(run, decisionBranch)),
  ])
  const failure = phaseOne.find((result) => result.status === 'rejected')
  if (failure !== undefined) {
    await rollBackEverything(run, 'parallel')
    throw rolledBack(run, 'a branch failed before the decision', failure.reason)
  }

  // What the `before` observer throws fails the decision: everything is rolled back.
  let deciding = false
  await runStep(run, {
    step: 'decision',
    span: 'txkit.decision',
    attributes: {
      'txkit.database': decisionLog.database.name,
      'txkit.decision.in_branch': decisionBranch !== undefined,
    },
    work: () => {
      deciding = true
      return decisionBranch === undefined
        ? decideAlone(run, decisionLog, participants)
        : decideInBranch(run, decisionBranch)
    },
    failed: async (error) => {
      if (deciding) return error
      await rollBackEverything(run, 'parallel')
      return decisionBranch === undefined
        ? rolledBack(run, 'the commit decision could not be recorded', error)
        : rolledBack(run, 'the decision step failed', error)
    },
  })

  const prepared = run.branches.filter((branch) => branch !== decisionBranch)
  const finish = async (): Promise<CommitResult> => {
    await Promise.all(prepared.map((branch) => commitBranch(run, branch, true)))
    const result = report(run)
    if (result.pending.length === 0) decisionLog.forget(run.gtrid)
    return result
  }
  if (acknowledge === 'decision' && run.background.hasRoom()) {
    // Committed from here on, whatever happens: recovery follows the decision.
    const completion = run.background.track(run.gtrid, finish(), () => report(run))
    return { ...report(run), completion }
  }
  return finish()
}

/** Where the branches stand; `pending` lists those not (yet) committed. */
function report(run: TransactionRun): CommitResult {
  const branches = run.branches.map((branch) => branch.report())
  const pending = branches.filter((branch) => branch.state !== 'committed')
  return { gtrid: run.gtrid, protocol: 'decision', branches, pending }
}

async function insertIntoBranch(
  run: TransactionRun,
  decisionLog: DecisionLog,
  branch: Branch,
  participants: string,
): Promise<void> {
  let outcome: DecisionInsertOutcome
  try {
    outcome = await decisionLog.insertIn(branch.connection, run.gtrid, participants, run.deadline)
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
async function decideInBranch(run: TransactionRun, branch: Branch): Promise<void> {
  const outcome = await commitInOneStep(run, branch, 'the decision database')
  if (outcome !== 'committed') {
    await rollBackEverything(run, 'parallel')
    throw rolledBack(run, ...outcome)
  }
}

/** The decision database does not take part: the 'C' row is inserted on its own. */
async function decideAlone(
  run: TransactionRun,
  decisionLog: DecisionLog,
  participants: string,
): Promise<void> {
  let outcome: DecisionInsertOutcome
  try {
    outcome = await decisionLog.insertAlone(run.gtrid, participants, run.deadline)
  } catch (error) {
    if (error instanceof DecisionInsertFailure && error.lost) {
      throw outcomeUnknown(
        run,
        error.cause instanceof UnconfirmedAnswer
          ? `the decision database "${decisionLog.database.name}" did not confirm the decision: ${error.cause.message}`
          : `the connection to the decision database "${decisionLog.database.name}" was lost while recording the decision`,
        error.cause,
      )
    }
    const cause = error instanceof DecisionInsertFailure ? decisionLog.explain(error.cause) : error
    await rollBackEverything(run, 'parallel')
    throw rolledBack(run, 'the commit decision could not be recorded', cause)
  }
  if (outcome !== 'inserted') {
    await rollBackEverything(run, 'parallel')
    throw rolledBack(run, 'the commit decision was refused', new Error(NOT_INSERTED[outcome]))
  }
}
