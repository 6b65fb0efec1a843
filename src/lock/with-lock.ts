import type { LockMode, LockScope } from '../dialect/lock-dialect.js'
import { DatabaseLock } from './database-lock.js'
import { runHolding } from './held-locks.js'
import type { LockKey } from './lock-key.js'
import {
  ACQUIRE_OPTIONS,
  type AcquireOptions,
  checkLockOptionNames,
  LOCK_OPTIONS,
  type LockModesOf,
  type LockOptions,
  resolveLockOptions,
  resolveWait,
} from './lock-options.js'
import { type LockSourceLike, toLockSource } from './lock-source.js'

export interface WithLockOptions<Mode extends LockMode = LockMode>
  extends LockOptions<Mode>,
    AcquireOptions {
  /**
   * `session` (default): the lock is held for the callback, then released. `transaction`: the
   * lock's session opens a transaction, takes a transaction-scoped lock, runs the callback (whose
   * `lock.query` statements run in that transaction) and commits, or rolls back when the callback
   * throws; the lock ends with the transaction.
   */
  readonly scope?: LockScope
}

const WITH_LOCK_OPTIONS: ReadonlySet<string> = new Set([
  ...LOCK_OPTIONS,
  ...ACQUIRE_OPTIONS,
  'scope',
])

/**
 * Holds a lock on `key` while `work` runs, on a session checked out for the lock alone and given
 * back afterwards. `work` gets the lock: its `signal` aborts if the lock is lost, its
 * `fencingToken` guards writes elsewhere, its `query` runs statements on the lock's session.
 *
 * @throws LockTimeoutError / LockWaitAbortedError / LockReentryError as `DatabaseLock.acquire`.
 * @throws LockLostError the session ended while `work` ran (after `work` finished; its own error wins).
 * @example
 * ```ts
 * import { withLock } from 'txkit'
 *
 * await withLock(pool, `invoice:${id}`, async (lock) => {
 *   await sendInvoice(id, { signal: lock.signal })
 * }, { timeout: 10_000 })
 * ```
 */
export async function withLock<Source extends LockSourceLike, Result>(
  source: Source,
  key: LockKey,
  work: (lock: DatabaseLock) => Promise<Result>,
  options: WithLockOptions<LockModesOf<Source>> = {},
): Promise<Result> {
  const lockSource = toLockSource(source)
  checkLockOptionNames(options ?? {}, WITH_LOCK_OPTIONS, 'withLock()')
  const scope = options.scope ?? 'session'
  const resolved = resolveLockOptions(options, scope, lockSource.lockDialect)
  const lock = new DatabaseLock(lockSource, key, resolved, options)
  await lock.take(resolveWait(options.timeout), options.signal)
  let result: Result
  try {
    result = await runHolding(lock.contextName, () => work(lock))
  } catch (error) {
    await finish(lock, scope, false).catch(() => undefined)
    throw error
  }
  await finish(lock, scope, true)
  return result
}

function finish(lock: DatabaseLock, scope: LockScope, succeeded: boolean): Promise<void> {
  return scope === 'transaction' ? lock.endTransaction(succeeded) : lock.release()
}
