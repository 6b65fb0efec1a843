import type { DriverConnection } from '../driver/driver-connection.js'

/** A lock a prepared transaction holds, as the server reports it. */
export interface HeldLock {
  /** What is locked: `relation`, `tuple`, `transactionid`, `record`, `table` … as the server says. */
  readonly type: string
  /** The table (schema-qualified where the server says), when the lock is on one. */
  readonly relation?: string
  /** The lock's mode as the server names it (`RowExclusiveLock`, `X`, …). */
  readonly mode: string
}

/** A session waiting for a lock a prepared transaction holds. */
export interface WaitingSession {
  /** The server's id of the waiting session (process id, connection id). */
  readonly session: number
  /** The table it waits on, when the server says. */
  readonly relation?: string
  /** Its user, where the server says. */
  readonly user?: string
  /** The statement it is running, cut to 200 characters. */
  readonly query?: string
  /** Since when it has waited (ms since the epoch), where the server says. */
  readonly waitingSince?: number
}

/** What a database tells of one prepared transaction. */
export interface PreparedDetail {
  /** The id as txkit writes it. */
  readonly xid: string
  /** The role that prepared it; undefined where the server does not record it. */
  readonly owner?: string
  /** When it was prepared (ms since the epoch); undefined where the server does not record it. */
  readonly preparedAt?: number
  /** The locks it holds; undefined where the server cannot tell. */
  readonly locks?: readonly HeldLock[]
  /** The sessions waiting behind it; undefined where the server cannot tell. */
  readonly waiting?: readonly WaitingSession[]
  /** What this server does not tell of a prepared transaction, in words for an operator. */
  readonly unknown: readonly string[]
}

/**
 * The details of prepared transactions an operator needs (`txkit show`): who prepared them and
 * when, the locks they hold and the sessions waiting behind them.
 */
export interface PreparedDetailDialect {
  /**
   * The details of those of `xids` prepared on the database (or the server, where the list of
   * prepared transactions is server-wide); an id not prepared has no entry.
   */
  describePrepared(connection: DriverConnection, xids: readonly string[]): Promise<PreparedDetail[]>
}
