import type { CommitProtocol, ProtocolTransaction } from '../commit-protocol.js'
import { commitInOnePhase } from '../one-phase-commit.js'
import type { TransactionRun } from '../transaction-run.js'
import { commitSequentially } from './sequential-commit.js'
import { sequentialRecovery } from './sequential-recovery-plan.js'

/**
 * The sequential protocol (sqlalchemy-xa-recovery's order and ids): a plain BEGIN, no decision
 * record, and recovery infers the outcome from which branches stay prepared. Its state is the
 * transaction's branches alone.
 */
export const sequentialProtocol: CommitProtocol = {
  name: 'sequential',
  checkDatabases: () => undefined,
  start(run: TransactionRun): ProtocolTransaction {
    return {
      beginBranch: (branch) => branch.dialect.begin(branch.connection, branch.xid),
      takeAlong: () => undefined,
      commit: () =>
        run.branches.length <= 1 ? commitInOnePhase(run, () => undefined) : commitSequentially(run),
      release: () => undefined,
    }
  },
  recovery: sequentialRecovery,
}
