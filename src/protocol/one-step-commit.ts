import { BranchOutsideTransaction, UnconfirmedAnswer } from '../dialect/dialect.js'
import { outcomeUnknown } from './abort.js'
import type { Branch } from './branch.js'
import type { TransactionRun } from './transaction-run.js'

/**
 * Commits a never-prepared branch in one phase: the decision database's, or a transaction's only
 * branch. Resolves `'committed'`, or the reason and cause of a definite rollback (the branch is
 * then finished or marked, and the caller rolls back the rest); throws the outcome-unknown error
 * when the answer was lost.
 */
export async function commitInOneStep(
  run: TransactionRun,
  branch: Branch,
  what: string,
): Promise<'committed' | [reason: string, cause: unknown]> {
  const name = `"${branch.names[0]}"`
  if (branch.connection.lost) {
    // The session died before COMMIT was sent: the server ended its transaction with it.
    branch.state = 'rolled-back'
    return [
      `the session of ${what} ${name} was gone before its COMMIT was sent`,
      branch.error ?? new Error('connection lost'),
    ]
  }
  let outcome: string
  // The outbox's messages, where this COMMIT carries them (run-outbox.ts).
  let carried: string | undefined
  try {
    carried = run.outbox?.commitStatements(run, branch)
    outcome = await branch.dialect.commitOnePhase(branch.connection, branch.xid, carried)
  } catch (thrown) {
    const error =
      (carried === undefined ? undefined : run.outbox?.refusal(branch, thrown)) ?? thrown
    branch.error = error
    if (error instanceof BranchOutsideTransaction) {
      branch.state = 'ended-elsewhere'
      branch.sessionDirty = true
      return [`${what} ${name} was outside its transaction`, error]
    }
    if (error instanceof UnconfirmedAnswer || branch.isLost(error)) {
      branch.state = 'unknown'
      throw outcomeUnknown(
        run,
        error instanceof UnconfirmedAnswer
          ? `the COMMIT of ${what} ${name} got an answer that does not say whether it committed`
          : `the connection to ${what} ${name} was lost during its COMMIT`,
        error,
      )
    }
    // The server refused the COMMIT (a deferred constraint, a serialization failure), or what the
    // COMMIT carried failed and it never ran: the transaction is then rolled back or left failed,
    // and a session whose transaction may still be open is closed rather than handed back.
    branch.state = 'rolled-back'
    if (run.outbox?.branch === branch && branch.connection.transactionStatus?.() !== 'idle') {
      branch.sessionDirty = true
    }
    return [`${what} ${name} refused to commit`, error]
  }
  if (outcome !== 'committed') {
    branch.state = 'rolled-back'
    return [
      `${what} ${name} rolled the transaction back`,
      new Error(
        `a statement in branch ${name} had failed (an error caught and ignored inside the transaction leaves it failed)`,
      ),
    ]
  }
  branch.state = 'committed'
  run.outbox?.committed(branch)
  run.outbox?.wakeAfter(run, branch)
  return 'committed'
}
