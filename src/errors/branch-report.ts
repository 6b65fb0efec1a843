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
   * The branch's transaction id (MySQL's XA id from the start; PostgreSQL's once prepared). The
   * decision database's branch and a transaction's only branch are never prepared.
   */
  readonly xid: string
  readonly state: BranchState
  /** The error this branch met, if any. */
  readonly error?: unknown
}
