import type { DriverConnection } from '../driver/driver-connection.js'
import type { TableName } from './table-name.js'

/** The lock identifiers a database has. */
export type LockKeySpace =
  /** PostgreSQL advisory locks: a signed 64-bit integer. */
  | { readonly kind: 'int64' }
  /** Named locks (MySQL/MariaDB GET_LOCK, SQL Server sp_getapplock): a string of limited length. */
  | { readonly kind: 'name'; readonly maxLength: number }
  /** Oracle DBMS_LOCK: an integer from 0 to 1073741823. */
  | { readonly kind: 'int30' }

/**
 * What a message calls the integers of a key space: the database whose locks use them (lock/
 * takes the name from here rather than name a database itself).
 */
export const KEY_SPACE_NAMES: Readonly<Record<'int64' | 'int30', string>> = {
  int64: 'PostgreSQL',
  int30: 'Oracle DBMS_LOCK',
}

/** A key turned into what the database locks: an integer or a name. */
export type LockIdentifier = bigint | string

/**
 * How a lock is held. PostgreSQL and MySQL/MariaDB know `exclusive` (and PostgreSQL `shared`); SQL
 * Server adds `update`; Oracle's six DBMS_LOCK modes are `null` (NL), `sub-shared` (SS),
 * `sub-exclusive` (SX), `shared` (S), `shared-sub-exclusive` (SSX) and `exclusive` (X).
 */
export type LockMode =
  | 'exclusive'
  | 'shared'
  | 'update'
  | 'null'
  | 'sub-shared'
  | 'sub-exclusive'
  | 'shared-sub-exclusive'

/** `session`: held until released or the session ends. `transaction`: until the transaction ends. */
export type LockScope = 'session' | 'transaction'

/** One lock to take or give back. */
export interface LockRequest {
  readonly id: LockIdentifier
  readonly mode: LockMode
  readonly scope: LockScope
}

/**
 * How long to wait for a lock: not at all (`0`), up to a number of milliseconds, or without end
 * (`null`). Waits happen on the server, never by polling.
 */
export type LockWait = number | null

/** What an acquisition answered. A fencing token comes with it when one was asked for. */
export interface LockGrant {
  readonly acquired: boolean
  readonly fencingToken?: bigint
}

/** Everything that differs between databases for locks: SQL, identifiers, what is supported. */
export interface LockDialect {
  /** For messages: `PostgreSQL`, `MySQL/MariaDB`, `SQL Server`, `Oracle`. */
  readonly displayName: string
  readonly keySpace: LockKeySpace
  readonly modes: readonly LockMode[]
  readonly scopes: readonly LockScope[]
  /**
   * `native`: the database ends a transaction-scoped lock with the transaction. `released-after-end`:
   * it has none, so txkit takes a session lock and releases it right after COMMIT or ROLLBACK.
   */
  readonly transactionScope: 'native' | 'released-after-end'
  /** The cheapest statement that proves the session answers (heartbeats). */
  readonly ping: string
  /** Whether a wait bound is honoured to the millisecond (Oracle rounds up to whole seconds). */
  readonly waitResolutionMs: number
  /**
   * Takes the lock, waiting as `wait` says. A timeout answers `{ acquired: false }`; a cancelled
   * wait throws the driver's error. `fencing` names the counter to draw a token from once held.
   * `inTransaction` says the session is inside a transaction the lock must not disturb.
   */
  acquire(
    connection: DriverConnection,
    request: LockRequest,
    wait: LockWait,
    fencing: TableName | undefined,
    inTransaction: boolean,
  ): Promise<LockGrant>
  /** Gives a session lock back; false when the server says this session did not hold it. */
  release(connection: DriverConnection, request: LockRequest): Promise<boolean>
  /** Creates the counter fencing tokens come from; absent where txkit has no fencing tokens. */
  createFencing?(connection: DriverConnection, fencing: TableName): Promise<void>
  /** The error says the fencing counter does not exist yet. */
  isMissingFencing(error: unknown): boolean
  /** The error is a wait that was cancelled from outside (what `DriverConnection.cancel` causes). */
  isCancelled(error: unknown): boolean
  /**
   * Statements opening, committing and rolling back the transaction of a transaction-scoped lock
   * (`begin` is empty where transactions begin by themselves, as on Oracle).
   */
  readonly transaction: {
    readonly begin: string
    readonly commit: string
    readonly rollback: string
  }
}

/** The default name of the fencing counter (a sequence or a table, depending on the database). */
export const DEFAULT_FENCING_TABLE = 'txkit_lock_fence'
