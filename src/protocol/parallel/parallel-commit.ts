import type { DecisionOutcome } from '../../dialect/dialect.js'
import { NOT_INSERTED } from '../../records/decision-log.js'
import { outcomeUnknown, rollBackEverything, rolledBack } from '../abort.js'
import { commitBranch, prepareBranch } from '../branch-steps.js'
import type { Acknowledge, CommitResult } from '../commit-result.js'
import { beforeStep, runStep } from '../protocol-step.js'
import type { TransactionRun } from '../transaction-run.js'
import { type ParallelState, stagedParticipantsOf } from './parallel-state.js'
import { StagingLost, StagingNotSent } from './staging-connection.js'

/** Whether this coordinator's staged row went in: by its answer, perhaps (answer lost), or not. */
type Staged = 'yes' | 'perhaps' | 'no'

/**
 * The parallel protocol (docs/architecture.md, "Parallel commit"; model/parallel.pml). Every
 * branch inserted its fence row with its BEGIN. In one phase, in parallel: every PREPARE and the
 * staged decision row 'S'. The transaction is committed once this coordinator's own answers say
 * the row is staged and every branch prepared; then 'S' becomes 'C' and the branches are committed.
 * Before that point a failure turns its own 'S' into 'A' and rolls back; an 'S' it cannot turn
 * (the answer was lost, or a recovery worker resolved it first) leaves the outcome unknown.
 */
export async function commitInParallel(
  state: ParallelState,
  acknowledge: Acknowledge,
): Promise<CommitResult> {
  const { run, decisionLog, staging } = state
  let staged: Staged = 'no'
  const stage = async () => {
    await beforeStep(run, 'decision')
    let outcome: Awaited<ReturnType<typeof decisionLog.insertIn>>
    try {
      // Checked in the row's own statement: it is written in the session taken at begin or not
      // at all, whoever the driver may have handed that connection to since.
      outcome = await staging.use((connection, session) =>
        decisionLog.insertIn(
          connection,
          run.gtrid,
          stagedParticipantsOf(state),
          run.deadline,
          'S',
          session,
        ),
      )
    } catch (error) {
      if (error instanceof StagingLost) {
        staged = 'perhaps'
        throw error.cause
      }
      // Its session ended before the row was sent: certainly not staged, so rolled back.
      if (error instanceof StagingNotSent) throw error.cause
      throw decisionLog.explain(error)
    }
    if (outcome !== 'inserted') throw new Error(NOT_INSERTED[outcome])
    staged = 'yes'
  }
  // The decision step spans phase one: the staged row and every PREPARE, in parallel. Its
  // `before` observer runs with the staged row's insert, so what it throws fails that insert.
  try {
    await runStep(run, {
      step: 'decision',
      span: 'txkit.decision',
      attributes: { 'txkit.database': decisionLog.database.name, 'txkit.decision.staged': true },
      before: 'in-work',
      work: async () => {
        const phaseOne = await Promise.allSettled([
          ...run.branches.map((branch) => prepareBranch(run, branch)),
          stage(),
        ])
        const failure = phaseOne.find((result) => result.status === 'rejected')
        if (failure !== undefined) throw failure.reason
      },
    })
  } catch (cause) {
    return abortBeforeCommitPoint(state, staged, cause)
  }
  // Committed: the staged row and every branch's PREPARE, by this coordinator's own answers.

  const finish = async (): Promise<CommitResult> => {
    let outcome: DecisionOutcome | undefined
    try {
      outcome = await staging.use(async (connection) =>
        (await decisionLog.resolveStagedOn(connection, run.gtrid, 'C'))
          ? 'C'
          : // Not 'S' any more: a recovery worker found every branch prepared and wrote 'C' first.
            decisionLog.readOn(connection, run.gtrid),
      )
      staging.release()
    } catch (error) {
      run.logger.warn(
        { gtrid: run.gtrid, error },
        "txkit: committed, but the staged decision could not be turned into 'C'; recovery will",
      )
      return report(run)
    }
    if (outcome === undefined) {
      // The protocol's only way here: a worker wrote 'C', committed every branch and collected
      // the row. Claimed only on each branch's own evidence, its fence row committed.
      if (await everyBranchShowsCommitted(state)) {
        for (const branch of run.branches) branch.state = 'committed'
        forgetFinished(state)
        return report(run)
      }
      throw outcomeUnknown(
        run,
        "its staged decision is gone (a recovery worker's 'C', collected once it had committed every branch, is the protocol's only way there), but not every branch's fence row shows its commit any more",
        new Error("no decision row where 'C' was due"),
      )
    }
    if (outcome !== 'C') {
      // Every branch holds its fence while prepared, so no worker claiming them in this
      // transaction's fence table can write 'A' now: whoever did broke the protocol. Committing
      // anyway would split the transaction; the row decides, and recovery follows it.
      const error = outcomeUnknown(
        run,
        "every branch is prepared, but its staged decision was resolved without the branches' fences",
        new Error(`decision row '${outcome}' where 'C' was due`),
      )
      run.logger.error(
        { gtrid: run.gtrid, error },
        'txkit: a staged decision was resolved against the protocol; its branches are left to recovery',
      )
      throw error
    }
    await Promise.all(run.branches.map((branch) => commitBranch(run, branch, true)))
    const result = report(run)
    if (result.pending.length === 0) forgetFinished(state)
    return result
  }
  if (acknowledge === 'decision' && run.background.hasRoom()) {
    const completion = run.background.track(run.gtrid, finish(), () => report(run))
    return { ...report(run), completion }
  }
  return finish()
}

async function abortBeforeCommitPoint(
  state: ParallelState,
  staged: Staged,
  cause: unknown,
): Promise<never> {
  const { run, decisionLog, staging } = state
  if (staged !== 'no') {
    let aborted: boolean
    try {
      aborted = await staging.use((connection) =>
        decisionLog.resolveStagedOn(connection, run.gtrid, 'A'),
      )
      staging.release()
    } catch (error) {
      throw outcomeUnknown(
        run,
        'the staged decision could not be turned into an abort (the connection to the decision database was lost): recovery decides',
        error,
      )
    }
    // Only an 'A' written over its own 'S' proves the rollback: a 'C' (every branch was found
    // prepared), a missing row, or an 'A' someone else wrote may follow a commit.
    if (!aborted) {
      throw outcomeUnknown(
        run,
        staged === 'yes'
          ? 'a recovery worker resolved the staged decision first: it may have committed'
          : 'the answer to the staged decision was lost and no staged row of it was found: it may have been committed and collected',
        cause,
      )
    }
  }
  await rollBackEverything(run, 'parallel')
  throw rolledBack(run, 'a branch or the staged decision failed before the commit point', cause)
}

/** Where the branches stand; `pending` lists those not (yet) committed. */
function report(run: TransactionRun): CommitResult {
  const branches = run.branches.map((branch) => branch.report())
  const pending = branches.filter((branch) => branch.state !== 'committed')
  return { gtrid: run.gtrid, protocol: 'parallel', branches, pending }
}

async function everyBranchShowsCommitted({ run, fences }: ParallelState): Promise<boolean> {
  const shown = await Promise.all(
    run.branches.map(
      async (branch) =>
        branch.fenced &&
        (await fences.showsCommitted(branch.database, {
          gtrid: run.gtrid,
          index: branch.index,
        })),
    ),
  )
  return shown.every(Boolean)
}

/** The row says 'C' and every branch is committed: its fence rows and row can go. */
function forgetFinished({ run, decisionLog, fences }: ParallelState): void {
  for (const branch of run.branches) {
    if (branch.fenced) fences.forget(branch.database, { gtrid: run.gtrid, index: branch.index })
  }
  decisionLog.forget(run.gtrid)
}
