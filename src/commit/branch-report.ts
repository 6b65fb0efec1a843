/**
 * Where one branch stands:
 * - `active`: its work is open (BEGIN / XA START) and not yet prepared;
 * - `prepared`: PREPARE TRANSACTION / XA PREPARE succeeded; it survives crashes until finished;
 * - `committed` / `rolled-back`: finished, confirmed by the database;
 * - `unknown`: the connection was lost while a prepare or commit was in flight.
 */
export type BranchState = 'active' | 'prepared' | 'committed' | 'rolled-back' | 'unknown'

/** A snapshot of one branch, carried by results and errors. */
export interface BranchReport {
  /** The names the caller gave this database (two names on one database share a branch). */
  readonly names: readonly string[]
  readonly index: number
  /** The transaction identifier on the database; `null` for a branch that commits in one phase. */
  readonly xid: string | null
  readonly state: BranchState
  /** The error this branch met, if any. */
  readonly error?: unknown
}
