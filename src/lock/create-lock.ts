import { DatabaseLock } from './database-lock.js'
import type { LockKey } from './lock-key.js'
import {
  checkLockOptionNames,
  LOCK_OPTIONS,
  type LockModesOf,
  type LockOptions,
  resolveLockOptions,
} from './lock-options.js'
import { type LockSourceLike, toLockSource } from './lock-source.js'

/**
 * A lock on `key` in the database behind `source` (a txkit database of any driver,
 * `mssqlLockSource(pool)` or `oracleLockSource(pool)`). Nothing is taken until `acquire`.
 *
 * @throws ConfigurationError for a bad key, an unknown option, or a mode, scope or fencing the
 *   database cannot honour.
 * @example
 * ```ts
 * import { createLock } from 'txkit'
 *
 * // database: a txkit database, made by the entry point of its driver
 * await using lock = await createLock(database, 'billing:42').acquire({ timeout: 5_000 })
 * await chargeCustomer(42, { signal: lock.signal })
 * ```
 */
export function createLock<Source extends LockSourceLike>(
  source: Source,
  key: LockKey,
  options: LockOptions<LockModesOf<Source>> = {},
): DatabaseLock {
  const lockSource = toLockSource(source)
  checkLockOptionNames(options ?? {}, LOCK_OPTIONS, 'createLock()')
  const resolved = resolveLockOptions(options ?? {}, 'session', lockSource.lockDialect)
  return new DatabaseLock(lockSource, key, resolved, options ?? {})
}
