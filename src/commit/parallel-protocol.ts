import type { DecisionOutcome } from '../dialect/dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { startSpan } from '../tracing/span.js'
import { outcomeUnknown, rollBackEverything, rolledBack } from './abort.js'
import { commitBranch, prepareBranch } from './branch-steps.js'
import {
  afterStep,
  beforeStep,
  type CommitContext,
  stagedParticipantsOf,
} from './commit-context.js'
import type { CommitResult } from './commit-result.js'
import { type DecisionLog, NOT_INSERTED } from './decision-log.js'
import type { FenceTable } from './fence-table.js'
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
export async function commitInParallel(context: CommitContext): Promise<CommitResult> {
  const { decisionLog, fences } = context
  if (decisionLog === undefined || fences === undefined) {
    throw new TypeError('the parallel protocol needs a decision log and a fence table')
  }
  let staged: Staged = 'no'
  const stage = async () => {
    await beforeStep(context, 'decision')
    let outcome: Awaited<ReturnType<DecisionLog['insertIn']>>
    try {
      // Checked in the row's own statement: it is written in the session taken at begin or not
      // at all, whoever the driver may have handed that connection to since.
      outcome = await onStaging(context, (connection, session) =>
        decisionLog.insertIn(
          connection,
          context.gtrid,
          stagedParticipantsOf(context, fences.tableText),
          context.deadline,
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
  const span = startSpan(
    'txkit.decision',
    { 'txkit.database': decisionLog.database.name, 'txkit.decision.staged': true },
    context.span,
  )
  const phaseOne = await Promise.allSettled([
    ...context.branches.map((branch) => prepareBranch(context, branch)),
    stage(),
  ])
  const failure = phaseOne.find((result) => result.status === 'rejected')
  if (failure !== undefined) {
    span?.end(failure.reason)
    return abortBeforeCommitPoint(context, decisionLog, staged, failure.reason)
  }
  span?.end()
  // Committed: the staged row and every branch's PREPARE, by this coordinator's own answers.
  await afterStep(context, 'decision')

  const finish = async (): Promise<CommitResult> => {
    let outcome: DecisionOutcome | undefined
    try {
      outcome = await onStaging(context, async (connection) =>
        (await decisionLog.resolveStagedOn(connection, context.gtrid, 'C'))
          ? 'C'
          : // Not 'S' any more: a recovery worker found every branch prepared and wrote 'C' first.
            decisionLog.readOn(connection, context.gtrid),
      )
      context.staging?.release()
    } catch (error) {
      context.logger.warn(
        { gtrid: context.gtrid, error },
        "txkit: committed, but the staged decision could not be turned into 'C'; recovery will",
      )
      return report(context)
    }
    if (outcome === undefined) {
      // The protocol's only way here: a worker wrote 'C', committed every branch and collected
      // the row. Claimed only on each branch's own evidence, its fence row committed.
      if (await everyBranchShowsCommitted(context, fences)) {
        for (const branch of context.branches) branch.state = 'committed'
        forgetFinished(context, decisionLog, fences)
        return report(context)
      }
      throw outcomeUnknown(
        context,
        "its staged decision is gone (a recovery worker's 'C', collected once it had committed every branch, is the protocol's only way there), but not every branch's fence row shows its commit any more",
        new Error("no decision row where 'C' was due"),
      )
    }
    if (outcome !== 'C') {
      // Every branch holds its fence while prepared, so no worker claiming them in this
      // transaction's fence table can write 'A' now: whoever did broke the protocol. Committing
      // anyway would split the transaction; the row decides, and recovery follows it.
      const error = outcomeUnknown(
        context,
        "every branch is prepared, but its staged decision was resolved without the branches' fences",
        new Error(`decision row '${outcome}' where 'C' was due`),
      )
      context.logger.error(
        { gtrid: context.gtrid, error },
        'txkit: a staged decision was resolved against the protocol; its branches are left to recovery',
      )
      throw error
    }
    await Promise.all(context.branches.map((branch) => commitBranch(context, branch)))
    const result = report(context)
    if (result.pending.length === 0) forgetFinished(context, decisionLog, fences)
    return result
  }
  if (context.acknowledge === 'decision' && context.background.hasRoom()) {
    const completion = context.background.track(context.gtrid, finish(), () => report(context))
    return { ...report(context), completion }
  }
  return finish()
}

async function abortBeforeCommitPoint(
  context: CommitContext,
  decisionLog: DecisionLog,
  staged: Staged,
  cause: unknown,
): Promise<never> {
  if (staged !== 'no') {
    let aborted: boolean
    try {
      aborted = await onStaging(context, (connection) =>
        decisionLog.resolveStagedOn(connection, context.gtrid, 'A'),
      )
      context.staging?.release()
    } catch (error) {
      throw outcomeUnknown(
        context,
        'the staged decision could not be turned into an abort (the connection to the decision database was lost): recovery decides',
        error,
      )
    }
    // Only an 'A' written over its own 'S' proves the rollback: a 'C' (every branch was found
    // prepared), a missing row, or an 'A' someone else wrote may follow a commit.
    if (!aborted) {
      throw outcomeUnknown(
        context,
        staged === 'yes'
          ? 'a recovery worker resolved the staged decision first: it may have committed'
          : 'the answer to the staged decision was lost and no staged row of it was found: it may have been committed and collected',
        cause,
      )
    }
  }
  await rollBackEverything(context, 'parallel')
  throw rolledBack(context, 'a branch or the staged decision failed before the commit point', cause)
}

/** Runs `work` on the transaction's staging connection. */
function onStaging<Result>(
  context: CommitContext,
  work: (connection: DriverConnection, session: number | undefined) => Promise<Result>,
): Promise<Result> {
  if (context.staging === undefined)
    throw new TypeError('a parallel transaction has a staging connection')
  return context.staging.use(work)
}

/** Where the branches stand; `pending` lists those not (yet) committed. */
function report(context: CommitContext): CommitResult {
  const branches = context.branches.map((branch) => branch.report())
  const pending = branches.filter((branch) => branch.state !== 'committed')
  return { gtrid: context.gtrid, protocol: 'parallel', branches, pending }
}

async function everyBranchShowsCommitted(
  context: CommitContext,
  fences: FenceTable,
): Promise<boolean> {
  const shown = await Promise.all(
    context.branches.map(
      async (branch) =>
        branch.fenced &&
        (await fences.showsCommitted(branch.database, {
          gtrid: context.gtrid,
          index: branch.index,
        })),
    ),
  )
  return shown.every(Boolean)
}

/** The row says 'C' and every branch is committed: its fence rows and row can go. */
function forgetFinished(
  context: CommitContext,
  decisionLog: DecisionLog,
  fences: FenceTable,
): void {
  for (const branch of context.branches) {
    if (branch.fenced) fences.forget(branch.database, { gtrid: context.gtrid, index: branch.index })
  }
  decisionLog.forget(context.gtrid)
}
