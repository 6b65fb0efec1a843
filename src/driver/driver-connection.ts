/**
 * A parameter asking the driver for an OUT bind holding a number, for PL/SQL blocks (Oracle); the
 * value comes back as the column `result` of the only row.
 */
export const OUT_NUMBER: unique symbol = Symbol.for('txkit.driver.out-number')

/** What txkit needs back from a statement. */
export interface QueryResult<Row = Record<string, unknown>> {
  readonly rows: Row[]
  /** Rows changed by an INSERT / UPDATE / DELETE (0 when the driver does not say). */
  readonly affectedRows: number
  /**
   * The command tag the server answered with, when the protocol has one (PostgreSQL does: a
   * PREPARE TRANSACTION on a failed transaction answers `ROLLBACK`).
   */
  readonly command?: string
  /** The AUTO_INCREMENT value an INSERT generated, where the protocol reports it (MySQL). */
  readonly insertId?: number | bigint
}

/** A notice or warning the server sent along with an answer (PostgreSQL's NoticeResponse). */
export interface ServerNotice {
  /** `WARNING`, `NOTICE`, … (untranslated where the server sends it so). */
  readonly severity?: string
  readonly code?: string
  /** The message, in the server's `lc_messages` language. */
  readonly message: string
  /** The server function that raised it, never translated (PostgreSQL's `routine` field). */
  readonly routine?: string
}

/** Where a session stands, as the protocol reports after every statement (PostgreSQL does). */
export type SessionTransactionStatus = 'idle' | 'open' | 'failed'

/** What a branch's guarded connection checks before passing a call on to the driver. */
export interface BranchGuard {
  /** Throws when `sql` would begin, end or hand over the transaction. */
  statement(sql: string): void
  /** Throws: `call` (such as `commit()` or `release()`) is never allowed on a branch. */
  refuse(call: string): never
}

/**
 * One dedicated session on a database, checked out of the user's pool. Adapters implement this over
 * a driver; txkit never imports a driver itself. postgres.js or the `mariadb` connector fit by
 * implementing these four members.
 */
export interface DriverConnection<Raw = unknown> {
  /** Runs one statement. Placeholders follow the driver (`$1` for pg, `?` for mysql2). */
  query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<Row>>
  /**
   * Sends `sql` without waiting for its answer, where the driver pipelines (postgres.js): it
   * travels with the next statement, and the next `query` fails with its error if it failed.
   * Dialects use it only for statements after whose failure no later statement can take effect
   * on its own (a BEGIN: the session is then closed or in a failed transaction). `explain` turns
   * its error into the one the next `query` throws.
   */
  defer?(sql: string, explain?: (error: unknown) => unknown): void
  /**
   * Gives the session back. `destroy` closes it instead, for a session whose state is unknown (lost
   * mid-statement, or an open transaction that could not be rolled back cleanly).
   */
  release(destroy: boolean): void
  /**
   * True once the driver has reported this session gone (socket closed, server-side termination).
   * Adapters set it from what only the driver knows; dialects classify server error codes.
   */
  readonly lost: boolean
  /** The driver's own connection object (a `pg.PoolClient`, a mysql2 `PoolConnection`). */
  readonly raw: Raw
  /**
   * `raw` as user code gets it inside a branch: the same object and type to the caller (a Proxy),
   * whose statements pass `guard` first and whose transaction and release calls are refused.
   * Absent where the adapter cannot guard its driver; the branch then hands out nothing raw.
   */
  guarded?(guard: BranchGuard): Raw
  /**
   * The session's transaction status after the last statement anyone sent on it, where the
   * protocol reports it without a round trip (PostgreSQL's ReadyForQuery); undefined elsewhere.
   */
  transactionStatus?(): SessionTransactionStatus | undefined
  /**
   * How many transaction-control statements (COMMIT, ROLLBACK, BEGIN, PREPARE TRANSACTION …) the
   * session has completed, whoever sent them, where the driver shows every command tag
   * (node-postgres). Unchanged since txkit's BEGIN, nobody can have ended the branch's transaction.
   */
  transactionTags?(): number | undefined
  /**
   * Interrupts the statement this session is running, from outside it (PostgreSQL's cancel
   * request, MySQL's `KILL QUERY`); the session stays usable. Locks need it to give up a wait.
   */
  cancel?(): Promise<void>
  /**
   * Resolves once the driver has handled what already reached the process about this session,
   * for drivers that learn of a closed socket only after the answers that preceded it
   * (postgres.js): a lock granted by a session that was being killed is then known lost.
   */
  settle?(): Promise<void>
  /**
   * Calls `listener` with every notice the server sends on this session until the returned function
   * is called, where the driver shows them to txkit (node-postgres). PostgreSQL reports a cancelled
   * wait for its synchronous standby only this way: the COMMIT itself answers success.
   */
  onNotice?(listener: (notice: ServerNotice) => void): () => void
  /**
   * Calls `listener` once, when the driver reports the session gone; returns a function that stops
   * listening. Locks need it to report a lock lost with its session.
   */
  onLost?(listener: () => void): () => void
  /**
   * Listens for notifications on `channel` (PostgreSQL's LISTEN), calling `onNotification` with
   * each one's payload; resolves once listening, with a function that stops. Keep the connection
   * (do not release it) while listening; releasing it stops too. Where the driver reconnects a
   * listener itself (postgres.js), notifications sent while it was away are lost: a relay keeps
   * polling. Absent where the database or the driver has no notifications.
   */
  listen?(channel: string, onNotification: (payload: string) => void): Promise<() => Promise<void>>
  /**
   * Called as soon as a session is taken that will sit idle before its first statement (the
   * parallel protocol's staging connection), where the driver tells the adapter of a closed
   * session only once a statement ran on it (postgres.js): from then on `lost` is true the moment
   * the driver sees the session close, before the driver can hand the connection to anyone else.
   */
  watch?(): void
  /**
   * The server's id of the session `watch` was called on (PostgreSQL's backend pid), as it was
   * when taken; undefined where the adapter does not learn it.
   */
  sessionId?(): Promise<number | undefined>
}
