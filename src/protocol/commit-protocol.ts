import type { Database } from '../database/database.js'
import type { DecisionRow } from '../dialect/dialect.js'
import type { DecisionLog } from '../records/decision-log.js'
import type { RowReads } from '../records/decision-rows.js'
import type { FenceTable } from '../records/fence-table.js'
import type { CommitProtocolName, IdKind } from '../xid/xid.js'
import type { Branch } from './branch.js'
import type { Acknowledge, CommitResult } from './commit-result.js'
import type { FoundBranch } from './found-branch.js'
import type { TransactionRecovery } from './recovery-report.js'
import type { Settings } from './recovery-settings.js'
import type { TransactionRun } from './transaction-run.js'

/**
 * One commit protocol: its begin rules (what a branch's BEGIN carries), its commit and its
 * recovery rules. Each lives in a folder of its own (`decision/`, `parallel/`, `sequential/`),
 * which `model/*.pml` checks; the coordinator and recovery only dispatch to it.
 */
export interface CommitProtocol {
  readonly name: CommitProtocolName
  /** Begin rules: refuses, before any connection is taken, a database that cannot take part. */
  checkDatabases(databases: readonly Database[]): void
  /** Begin rules: one transaction of this protocol, with its own state, made at `begin`. */
  start(run: TransactionRun, setup: ProtocolSetup): ProtocolTransaction
  /** Recovery rules: how an in-doubt transaction of this protocol is finished. */
  readonly recovery: RecoveryRules
}

/** What the coordinator gives a transaction at `begin`. */
export interface ProtocolSetup {
  /** Where its decision is recorded (none under the sequential protocol). */
  readonly decisionLog: DecisionLog | undefined
  /** Where its branches fence (parallel protocol). */
  readonly fences: FenceTable | undefined
  /** Its databases, one per branch; empty for an open transaction (databases join later). */
  readonly databases: readonly Database[]
}

/** One transaction as its protocol runs it. */
export interface ProtocolTransaction {
  /**
   * Begin rules: BEGIN (or XA START) on a branch's connection, with what the protocol writes along
   * (a fence row, the decision row). `count` is the branch count its id carries (0: open).
   */
  beginBranch(branch: Branch, count: number): Promise<void>
  /**
   * Begin rules: what the protocol takes in the same tick as the branches' connections (the
   * parallel staging connection), or undefined.
   */
  takeAlong(): Promise<void> | undefined
  /** Commits a transaction of any number of branches (one or none commit in one phase). */
  commit(acknowledge: Acknowledge): Promise<CommitResult>
  /** Gives back what the protocol holds besides the branches. */
  release(): void
  /**
   * The branch that will commit in one phase, without PREPARE (the decision database's, or the
   * only one), where the protocol has one: a transaction's messages are written there by choice.
   */
  oneStepBranch?(): Branch | undefined
}

/** Recovery rules: the part of a recovery round a protocol does. */
export interface RecoveryRules {
  /** The kind of id its transactions carry (the parallel protocol's ids are decision ids). */
  readonly kind: IdKind
  /** Whether its transactions are finished only from two scans `minAge` apart (stable groups). */
  readonly scansTwice: boolean
  /** The round's work for this protocol's transactions. */
  plan(round: RecoveryRound): Promise<RecoveryWork[]>
  /**
   * The protocol whose decision row reads 'S' (staged) finishes such a transaction: `group` its
   * prepared branches (none when the row is all that is left).
   */
  readonly finishStaged?: FinishStaged
  /** Deletes the records of this protocol no transaction needs any more (fence rows); how many. */
  readonly collectFences?: (settings: Settings) => Promise<number>
}

export type FinishStaged = (
  group: readonly FoundBranch[],
  row: DecisionRow,
  settings: Settings,
  decisionLog: DecisionLog,
) => Promise<TransactionRecovery>

/** What a recovery round found, for each protocol's rules to plan from. */
export interface RecoveryRound {
  readonly settings: Settings
  /** The prepared branches by gtrid (the latest scan). */
  readonly groups: ReadonlyMap<string, FoundBranch[]>
  /** The groups unchanged between two scans `minAge` apart (when some rules scan twice). */
  readonly stable: ReadonlyMap<string, FoundBranch[]>
  /** Each decision log's rows older than `minAge`, read before the scan. */
  readonly oldRows: ReadonlyMap<DecisionLog, readonly DecisionRow[]>
  /** Finishes a transaction whose decision row reads 'S' (the rules that stage decisions). */
  readonly finishStaged: FinishStaged
}

/** One transaction's share of a recovery round: how to handle it. */
export interface RecoveryWork {
  readonly gtrid: string
  readonly kind: IdKind
  readonly group: FoundBranch[]
  /** Where its decision row is read, ahead of its work. */
  readonly rows?: RowReads
  readonly run: () => Promise<TransactionRecovery>
}
