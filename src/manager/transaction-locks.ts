import type { Database } from '../database/database.js'
import type { LockMode } from '../dialect/lock-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { LockReentryError } from '../errors/lock-reentry-error.js'
import { DatabaseLock } from '../lock/database-lock.js'
import type { LockKey } from '../lock/lock-key.js'
import { describeKey } from '../lock/lock-key.js'
import {
  ACQUIRE_OPTIONS,
  type AcquireOptions,
  checkLockOptionNames,
  LOCK_OPTIONS,
  type LockOptions,
  resolveLockOptions,
  resolveWait,
} from '../lock/lock-options.js'
import { toLockSource } from '../lock/lock-source.js'

/** Options of `tx.lock`: the lock's own, and how long to wait. */
export interface TransactionLockOptions<Mode extends LockMode = LockMode>
  extends LockOptions<Mode>,
    AcquireOptions {}

const TRANSACTION_LOCK_OPTIONS: ReadonlySet<string> = new Set([...LOCK_OPTIONS, ...ACQUIRE_OPTIONS])

/** The branch's session, lent to a lock: the transaction, not the lock, gives it back. */
function borrowed(session: DriverConnection): DriverConnection {
  return {
    query: (sql, params) => session.query(sql, params),
    release: () => undefined,
    get lost() {
      return session.lost
    },
    raw: session.raw,
    ...(session.cancel && { cancel: () => session.cancel?.() ?? Promise.resolve() }),
    ...(session.settle && { settle: () => session.settle?.() ?? Promise.resolve() }),
  }
}

/**
 * The locks a managed transaction took (`tx.lock`), ended with it. On a database whose locks have a
 * transaction scope (PostgreSQL) a lock lives in the branch's own session; elsewhere it holds a
 * session of its own, released once the outcome is known.
 */
export class TransactionLocks {
  /** By the name re-entry is checked against. */
  readonly #names = new Set<string>()
  readonly #ends: Array<() => Promise<void>> = []

  /**
   * Takes `key` on `database` for the transaction; `branchSession` joins the database and answers
   * its branch's session (asked only where the lock lives in the branch).
   *
   * @throws LockReentryError the transaction holds this lock already.
   */
  async take(
    database: Database,
    key: LockKey,
    options: TransactionLockOptions,
    branchSession: () => Promise<DriverConnection>,
  ): Promise<DatabaseLock> {
    checkLockOptionNames(options ?? {}, TRANSACTION_LOCK_OPTIONS, 'tx.lock()')
    const source = toLockSource(database)
    const dialect = source.lockDialect
    const native = dialect.transactionScope === 'native'
    const resolved = resolveLockOptions(options, native ? 'transaction' : 'session', dialect)
    const wait = resolveWait(options.timeout)
    let lock: DatabaseLock
    if (native) {
      const session = await branchSession()
      lock = new DatabaseLock(
        { identity: source.identity, lockDialect: dialect, acquire: async () => borrowed(session) },
        key,
        resolved,
        options,
        true,
      )
    } else {
      lock = new DatabaseLock(source, key, resolved, options)
    }
    if (this.#names.has(lock.contextName)) {
      throw new LockReentryError(
        `This transaction holds lock ${describeKey(key)} already: txkit never stacks a lock on itself.`,
        describeKey(key),
      )
    }
    this.#names.add(lock.contextName)
    try {
      await lock.take(wait, options.signal)
    } catch (error) {
      this.#names.delete(lock.contextName)
      throw error
    }
    this.#ends.push(
      native
        ? async () => lock.transactionEnded()
        : async () => {
            if (lock.locked || lock.status === 'lost') await lock.release()
          },
    )
    return lock
  }

  /** Ends every lock, each through `run` (which reports a failure and goes on). */
  async endAll(run: (end: () => Promise<void>) => Promise<void>): Promise<void> {
    for (const end of this.#ends.splice(0)) await run(end)
  }
}
