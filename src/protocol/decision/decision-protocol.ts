import type { Branch } from '../branch.js'
import type { CommitProtocol, ProtocolSetup, ProtocolTransaction } from '../commit-protocol.js'
import { commitInOnePhase } from '../one-phase-commit.js'
import type { TransactionRun } from '../transaction-run.js'
import { commitWithDecision } from './decision-commit.js'
import { decisionRecovery } from './decision-recovery-plan.js'
import { type DecisionState, decisionBranchOf } from './decision-state.js'

/**
 * The decision protocol (model/decision.pml): a 'C' row in the decision log commits, recovery
 * follows the row. Its begin rule: when every participant is known at begin and the decision
 * database can, the 'C' row rides in that database's BEGIN (no extra round trip at commit).
 */
export const decisionProtocol: CommitProtocol = {
  name: 'decision',
  checkDatabases: () => undefined,
  start(run: TransactionRun, setup: ProtocolSetup): ProtocolTransaction {
    const { decisionLog, databases } = setup
    const decisionDatabase = databases.find(
      (database) => database.identity === decisionLog?.database.identity,
    )
    const state: DecisionState = {
      run,
      decisionLog,
      // One branch commits in one phase and needs no decision at all; an open transaction writes
      // its row at commit time, under the deadline.
      insertedAtBegin:
        databases.length > 1 &&
        decisionDatabase?.dialect.beginWithDecision !== undefined &&
        decisionLog !== undefined,
      participantsAtBegin: JSON.stringify(databases.map((database) => database.name)),
    }
    return {
      beginBranch: (branch) => beginBranch(state, branch),
      takeAlong: () => undefined,
      commit: (acknowledge) =>
        run.branches.length <= 1
          ? commitInOnePhase(run, (branch) => {
              // A decision row written with BEGIN committed along: it serves no one.
              if (state.insertedAtBegin && branch === decisionBranchOf(state)) {
                decisionLog?.forget(run.gtrid)
              }
            })
          : commitWithDecision(state, acknowledge),
      release: () => undefined,
      oneStepBranch: () => (run.branches.length <= 1 ? run.branches[0] : decisionBranchOf(state)),
    }
  },
  recovery: decisionRecovery,
}

/** BEGIN; on the decision database of a transaction whose participants are known, with the 'C' row. */
async function beginBranch(state: DecisionState, branch: Branch): Promise<void> {
  const { decisionLog, run } = state
  const decision = branch.database.identity === decisionLog?.database.identity
  if (!decision || !state.insertedAtBegin || decisionLog === undefined) {
    await branch.dialect.begin(branch.connection, branch.xid)
    return
  }
  const explain = (error: unknown) => decisionLog.explain(error)
  await branch.dialect
    .beginWithDecision?.(
      branch.connection,
      branch.xid,
      decisionLog.table,
      run.gtrid,
      state.participantsAtBegin,
      decisionLog.seenWorking ? { explain } : undefined,
    )
    .catch((error: unknown) => {
      throw explain(error)
    })
  decisionLog.markWorking()
}
