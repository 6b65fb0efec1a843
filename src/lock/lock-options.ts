import type { LockDialect, LockMode, LockScope } from '../dialect/lock-dialect.js'
import { DEFAULT_FENCING_TABLE } from '../dialect/lock-dialect.js'
import { registeredLockDialects } from '../dialect/lock-source.js'
import { parseTableName, type TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import type { LockKeyMapping, LongKeyPolicy } from './lock-key.js'

/**
 * How a lock is taken. Options a database cannot honour are refused, never ignored; `Mode` narrows
 * the modes to the database's where its type says (a MySQL/MariaDB database: exclusive only).
 */
export interface LockOptions<Mode extends LockMode = LockMode> {
  /** Default `exclusive`. PostgreSQL adds `shared`; SQL Server `shared`, `update`; Oracle all six. */
  readonly mode?: Mode
  /** How keys become lock identifiers (default `txkit`; see `lockIdentifier`). */
  readonly keyMapping?: LockKeyMapping
  /** Named locks only: refuse (`error`, default) or hash (`hash`) keys longer than the database takes. */
  readonly longKeys?: LongKeyPolicy
  /**
   * Draw a fencing token with every acquisition: a number larger than any earlier holder's, to pass
   * along with writes elsewhere so they can refuse a stale holder. `true` uses the counter
   * `txkit_lock_fence` (a sequence on PostgreSQL, an AUTO_INCREMENT table on MySQL/MariaDB, created
   * on first use); a string names another. PostgreSQL draws it in the locking statement itself;
   * MySQL/MariaDB need one more statement, a durable write.
   */
  readonly fencing?: boolean | string
  /**
   * Milliseconds between heartbeats while the lock is held: the session must answer a trivial
   * statement within one period, or it is closed and the lock reported lost. Without it a lock
   * learns of a dead session only when the driver does (a closed socket: at once; a silent network
   * partition: only when TCP gives up). Statements run through `lock.query` count as heartbeats.
   */
  readonly heartbeat?: number
}

/** How long `acquire` may wait and what can cut the wait short. */
export interface AcquireOptions {
  /**
   * Milliseconds to wait on the server (fractions honoured where the database can; Oracle rounds up
   * to whole seconds). `0` tries once. Omitted or `Infinity`: wait until granted.
   */
  readonly timeout?: number
  /** Aborting it cancels the waiting statement on the server; the acquire rejects. */
  readonly signal?: AbortSignal
}

export interface ResolvedLockOptions {
  readonly mode: LockMode
  readonly scope: LockScope
  readonly fencing: TableName | undefined
  readonly heartbeat?: number
}

/** The options of a lock itself; where it is taken adds how to wait (and `withLock` a scope). */
export const LOCK_OPTIONS: ReadonlySet<string> = new Set([
  'mode',
  'keyMapping',
  'longKeys',
  'fencing',
  'heartbeat',
])
export const ACQUIRE_OPTIONS: ReadonlySet<string> = new Set(['timeout', 'signal'])

/** Where sqlalchemy-dlock's options, or options in the wrong call, belong in txkit. */
const HINTS: Readonly<Record<string, string>> = {
  shared: "mode: 'shared'",
  xact: "scope: 'transaction' (withLock or tx.lock)",
  timeout: 'acquire({ timeout })',
  signal: 'acquire({ signal })',
  scope: "withLock(…, { scope: 'transaction' }) or tx.lock(…)",
}

/** Refuses unknown lock option names, pointing misplaced ones to where they belong. */
export function checkLockOptionNames(
  options: object,
  allowed: ReadonlySet<string>,
  where: string,
): void {
  checkOptionNames(options, allowed, where, HINTS)
}

/** Checks options against what the database supports. */
export function resolveLockOptions(
  options: LockOptions,
  scope: LockScope,
  dialect: LockDialect,
): ResolvedLockOptions {
  const mode = options.mode ?? 'exclusive'
  if (!dialect.modes.includes(mode)) {
    throw new ConfigurationError(
      `${dialect.displayName} locks have no mode ${describeValue(mode)}; its modes: ${dialect.modes.join(', ')}.${
        mode === 'shared' && dialect.modes.length === 1
          ? ' (GET_LOCK is exclusive only: txkit will not hand out an exclusive lock for a shared one.)'
          : ''
      }`,
    )
  }
  if (!dialect.scopes.includes(scope)) {
    throw new ConfigurationError(
      `${dialect.displayName} locks cannot have scope ${describeValue(scope)}; its scopes: ${dialect.scopes.join(', ')}.`,
    )
  }
  const heartbeat = options.heartbeat
  if (
    heartbeat !== undefined &&
    (typeof heartbeat !== 'number' || !Number.isFinite(heartbeat) || heartbeat < 10)
  ) {
    throw new ConfigurationError(
      `heartbeat is a number of milliseconds ≥ 10, not ${describeValue(heartbeat)}.`,
    )
  }
  const beat = heartbeat === undefined ? {} : { heartbeat }
  if (options.fencing === undefined || options.fencing === false) {
    return { mode, scope, fencing: undefined, ...beat }
  }
  if (dialect.createFencing === undefined) {
    throw new ConfigurationError(
      `Fencing tokens are not available on ${dialect.displayName} in txkit${fencingDatabases()}.`,
    )
  }
  if (options.fencing !== true && typeof options.fencing !== 'string') {
    throw new ConfigurationError(
      `fencing is true or the name of a counter table, not ${describeValue(options.fencing)}.`,
    )
  }
  const name = options.fencing === true ? DEFAULT_FENCING_TABLE : options.fencing
  return { mode, scope, fencing: parseTableName(name, 'fencing counter'), ...beat }
}

/** Milliseconds to wait, `null` for no limit. */
export function resolveWait(timeout: unknown): number | null {
  if (timeout === undefined || timeout === Number.POSITIVE_INFINITY) return null
  if (typeof timeout !== 'number' || Number.isNaN(timeout) || timeout < 0) {
    throw new ConfigurationError(
      `A lock timeout is a number of milliseconds ≥ 0 (0 tries once; omit it to wait without limit), not ${describeValue(timeout)}.`,
    )
  }
  return timeout
}

/**
 * The lock modes a lock source's type allows: a database whose type declares `lockModes` (MySQL and
 * MariaDB: `exclusive` only) narrows them, so `mode: 'shared'` there does not compile.
 */
export type LockModesOf<Source> = Source extends { readonly lockModes?: readonly (infer Mode)[] }
  ? Mode extends LockMode
    ? Mode
    : LockMode
  : LockMode

/** The loaded databases that have fencing tokens, for the message refusing them elsewhere. */
function fencingDatabases(): string {
  const names = registeredLockDialects()
    .filter((dialect) => dialect.createFencing !== undefined)
    .map((dialect) => dialect.displayName)
  if (names.length === 0) return ''
  const list =
    names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`
  return ` (${list} ${names.length === 1 ? 'has' : 'have'} them)`
}
