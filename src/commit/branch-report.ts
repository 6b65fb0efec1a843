/**
 * Where one branch stands:
 * - `active`: its work is open (BEGIN / XA START) and not yet prepared;
 * - `prepared`: PREPARE TRANSACTION / XA PREPARE succeeded; it survives crashes until finished;
 * - `committed` / `rolled-back`: finished, confirmed by the database;
 * - `unknown`: the connection was lost while a prepare or commit was in flight, or the server's
 *   answer did not say what happened;
 * - `ended-elsewhere`: found outside its transaction, which something txkit did not send ended
 *   (a COMMIT or ROLLBACK reaching its connection another way): its work may be committed.
 */
export type BranchState =
  | 'active'
  | 'prepared'
  | 'committed'
  | 'rolled-back'
  | 'unknown'
  | 'ended-elsewhere'

/** A snapshot of one branch, carried by results and errors. */
export interface BranchReport {
  /** The names the caller gave this database (two names on one database share a branch). */
  readonly names: readonly string[]
  readonly index: number
  /**
   * The transaction identifier on the database (MySQL's XA id; PostgreSQL uses it only once the
   * branch is prepared); `null` for a user-written resource's one-phase branch.
   */
  readonly xid: string | null
  readonly state: BranchState
  /** The error this branch met, if any. */
  readonly error?: unknown
}
