import { ConfigurationError } from '../../errors/configuration-error.js'
import { FenceTable } from '../../records/fence-table.js'
import type { Branch } from '../branch.js'
import type { CommitProtocol, ProtocolSetup, ProtocolTransaction } from '../commit-protocol.js'
import { commitInOnePhase } from '../one-phase-commit.js'
import type { TransactionRun } from '../transaction-run.js'
import { commitInParallel } from './parallel-commit.js'
import { parallelRecovery } from './parallel-recovery-plan.js'
import type { ParallelState } from './parallel-state.js'
import { StagingConnection } from './staging-connection.js'

/**
 * The parallel protocol (docs/architecture.md, "Parallel commit"; model/parallel.pml). Its begin
 * rules: every branch of a transaction of more than one database inserts its fence row with its
 * BEGIN, and the staging connection is taken in the same tick as the branches' connections.
 */
export const parallelProtocol: CommitProtocol = {
  name: 'parallel',
  checkDatabases(databases) {
    // One database commits in one phase: no fence row.
    if (databases.length > 1) {
      for (const database of databases) FenceTable.dialectOf(database)
    }
  },
  start(run: TransactionRun, setup: ProtocolSetup): ProtocolTransaction {
    const { decisionLog, fences } = setup
    if (decisionLog === undefined || fences === undefined) {
      throw new TypeError('the parallel protocol needs a decision log and a fence table')
    }
    const state: ParallelState = {
      run,
      decisionLog,
      fences,
      staging: new StagingConnection(decisionLog.database),
    }
    return {
      beginBranch: (branch, count) => beginBranch(state, branch, count),
      takeAlong: () => state.staging.take(),
      commit: (acknowledge) =>
        run.branches.length <= 1
          ? commitInOnePhase(run, (branch) => {
              // A fence row (an open parallel transaction) committed along: it serves no one.
              if (branch.fenced) {
                fences.forget(branch.database, { gtrid: run.gtrid, index: branch.index })
              }
            })
          : commitInParallel(state, acknowledge),
      release: () => state.staging.release(),
    }
  },
  recovery: parallelRecovery,
}

/**
 * BEGIN with the branch's fence row. A transaction of one database commits in one phase: no
 * fence. An open one (`count` 0) may be joined by more, so each of its branches is fenced.
 */
async function beginBranch(state: ParallelState, branch: Branch, count: number): Promise<void> {
  const { fences, run } = state
  if (count === 1) {
    await branch.dialect.begin(branch.connection, branch.xid)
    return
  }
  const { database } = branch
  await FenceTable.dialectOf(database)
    .begin(branch.connection, branch.xid, fences.table, { gtrid: run.gtrid, index: branch.index })
    .catch((error: unknown) => {
      throw database.dialect.isUndefinedTable(error)
        ? new ConfigurationError(
            `The fence table ${fences.tableText} does not exist in database "${database.name}": create it once with \`await coordinator.createFenceTable(database)\` (or \`txkit init --fences\`).`,
            { cause: error },
          )
        : error
    })
  branch.fenced = true
}
