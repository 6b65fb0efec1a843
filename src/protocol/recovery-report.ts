import type { IdKind } from '../xid/xid.js'

/** Why recovery left a transaction alone this round. */
export type LeftReason =
  /** Younger than `minAge`: probably still being committed by its coordinator. */
  | 'too-young'
  /** A coordinator's commit decision is open (its row is locked): it is still alive. */
  | 'decision-open'
  /** MariaDB / MySQL < 8.0.29: the branch is still attached to the session that prepared it. */
  | 'attached-to-live-session'
  /** Another session (a coordinator or another worker) was finishing a branch at that moment. */
  | 'in-use'
  /** Its set of prepared branches changed between the two scans (sequential protocol). */
  | 'unstable'
  /** The branches found match no rule (sequential: neither a prefix nor a suffix; bad counts). */
  | 'invalid-state'
  /** A decision-protocol transaction, and recovery was given no decision log. */
  | 'no-decision-log'
  /** Its id names another decision log than the one recovery was given. */
  | 'other-decision-log'
  /** Its staged decision's fences are in another fence table than the one recovery was given. */
  | 'other-fence-table'
  /** The decision table does not exist: the wrong database, or a lost table. */
  | 'decision-table-missing'
  /** It began before its decision table existed (or the table's age is unknown): never aborted. */
  | 'older-than-decision-log'
  /** Its protocol is not among those recovery was asked for (`protocol`). */
  | 'protocol-not-selected'
  /** Another recovery worker running at the same time holds its share of the work. */
  | 'other-worker'

/** Every reason recovery may leave a transaction for, in a stable order (metrics start them at 0). */
export const LEFT_REASONS: readonly LeftReason[] = [
  'too-young',
  'decision-open',
  'attached-to-live-session',
  'in-use',
  'unstable',
  'invalid-state',
  'no-decision-log',
  'other-decision-log',
  'other-fence-table',
  'decision-table-missing',
  'older-than-decision-log',
  'protocol-not-selected',
  'other-worker',
]

/** What happened to one branch. */
export interface RecoveredBranch {
  /** The configured database the branch was found through (server-wide scans: any on that server). */
  readonly database: string
  readonly xid: string
  readonly index: number
  readonly outcome:
    | 'committed'
    | 'rolled-back'
    | 'would-commit'
    | 'would-roll-back'
    | 'left'
    | 'failed'
  /** Why a branch was left, when it was. */
  readonly left?: LeftReason
  readonly error?: string
}

/** What recovery found and did for one transaction. */
export interface TransactionRecovery {
  readonly gtrid: string
  readonly protocol: IdKind
  /** Age by the coordinator's start time (decision) or the oldest prepare (when the server knows). */
  readonly ageMs: number | undefined
  readonly branches: readonly RecoveredBranch[]
  /** The outcome recovery follows: a recorded decision, the seed's rule, or none yet. */
  readonly decision: 'commit' | 'rollback' | 'none'
  /** Why, in words. */
  readonly reason: string
  readonly action:
    | 'committed'
    | 'rolled-back'
    | 'would-commit'
    | 'would-roll-back'
    | 'left'
    | 'failed'
  readonly left?: LeftReason
  readonly error?: string
  /** Things an operator should know that did not stop recovery (a participant not configured …). */
  readonly warnings: readonly string[]
}

/** A transaction id with our prefix that could not be parsed. Reported, never touched. */
export interface MalformedPrepared {
  readonly database: string
  readonly xid: string
  readonly reason: string
}

/** One configured database, as scanned. */
export interface ScannedDatabase {
  readonly name: string
  /** Our prepared transactions seen through it (server-wide scans count on the first database). */
  readonly ours: number
  /** Prepared transactions of others, never touched. */
  readonly foreign: number
  /** Prefixes of txkit-format ids among them (another deployment, or a misconfigured one). */
  readonly otherPrefixes?: readonly string[]
  /** Set when the database could not be scanned; its transactions wait for the next round. */
  readonly error?: string
}

/** Everything one recovery round found and did. */
export interface RecoveryReport {
  readonly dryRun: boolean
  readonly aborted: boolean
  readonly startedAt: string
  readonly durationMs: number
  readonly databases: readonly ScannedDatabase[]
  readonly transactions: readonly TransactionRecovery[]
  readonly malformed: readonly MalformedPrepared[]
  /** Decision rows of finished transactions removed this round. */
  readonly decisionsDeleted: number
  /** Fence rows (parallel protocol) past every transaction's deadline removed this round. */
  readonly fencesDeleted: number
  readonly counts: {
    readonly committed: number
    readonly rolledBack: number
    readonly left: number
    readonly failed: number
  }
}
