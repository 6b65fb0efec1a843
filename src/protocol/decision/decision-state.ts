import type { DecisionLog } from '../../records/decision-log.js'
import type { Branch } from '../branch.js'
import type { TransactionRun } from '../transaction-run.js'

/** One decision-protocol transaction: where its decision goes and how. */
export interface DecisionState {
  readonly run: TransactionRun
  readonly decisionLog: DecisionLog | undefined
  /**
   * The 'C' row rides in the decision database's branch, inserted with its BEGIN (every
   * participant known at begin, and a decision database that can).
   */
  readonly insertedAtBegin: boolean
  /** The decision row's `participants` as known at begin (the databases' names). */
  readonly participantsAtBegin: string
}

/**
 * The branch running on the decision database, which commits in one phase carrying the decision;
 * undefined when the decision database takes no part.
 */
export function decisionBranchOf(state: DecisionState): Branch | undefined {
  const identity = state.decisionLog?.database.identity
  if (identity === undefined) return undefined
  return state.run.branches.find((branch) => branch.database.identity === identity)
}
