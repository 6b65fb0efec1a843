import type { DecisionLog } from '../../records/decision-log.js'
import type { FenceTable } from '../../records/fence-table.js'
import { participantNames, type TransactionRun } from '../transaction-run.js'
import type { StagingConnection } from './staging-connection.js'

/** One parallel-protocol transaction: where its staged decision and its fences go. */
export interface ParallelState {
  readonly run: TransactionRun
  readonly decisionLog: DecisionLog
  /** The fence table of every participating database. */
  readonly fences: FenceTable
  /** Where the staged row and its turn to 'C' or 'A' are written. */
  readonly staging: StagingConnection
}

/**
 * A staged decision row's `participants`: the branches' names at their index, and the fence
 * table its branches' fences are in. Recovery claims fences only in that table: a claim in any
 * other (another deployment's, a misconfigured worker's) would succeed while the branch lives, and
 * its 'A' would roll back a transaction that may have been acknowledged.
 */
export function stagedParticipantsOf(state: ParallelState): string {
  return JSON.stringify({
    branches: participantNames(state.run),
    fenceTable: state.fences.tableText,
  })
}
