import { AsyncLocalStorage } from 'node:async_hooks'
import { Coordinator } from '../commit/coordinator.js'
import type { Database } from '../database/database.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import type { BranchHandle } from '../protocol/branch.js'
import type { CommitResult } from '../protocol/commit-result.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { silentLogger } from '../util/logger.js'
import type { ManagedOutbox } from './managed-outbox.js'
import { ManagedTransaction } from './managed-transaction.js'
import type { RecordHooks } from './record-hooks.js'
import {
  RETRY_OPTIONS,
  type RetryOptions,
  type TransactionAttempt,
  transactionAttempts,
} from './transaction-attempts.js'
import {
  checkManagerOptions,
  DEFAULT_SIBLING_WAIT_TIMEOUT,
  type TransactionManagerOptions,
} from './transaction-manager-options.js'

/**
 * The current transaction, carried through async calls by AsyncLocalStorage, the Node counterpart
 * of Zope's thread-local transaction manager. Code deep in a call stack joins it without being
 * handed anything; concurrent async flows each see their own.
 */
export class TransactionManager implements AsyncDisposable {
  readonly coordinator: Coordinator
  readonly explicit: boolean
  readonly #storage = new AsyncLocalStorage<ManagedTransaction>()
  readonly #options: TransactionManagerOptions
  readonly #recordHooks = new Map<string, RecordHooks[]>()

  constructor(options: TransactionManagerOptions) {
    const coordinatorOptions = checkManagerOptions(options)
    this.coordinator = new Coordinator(coordinatorOptions)
    this.explicit = options.explicit === true
    this.#options = options
  }

  #create(): ManagedTransaction {
    return new ManagedTransaction(
      this.coordinator,
      this.#options.logger ?? silentLogger,
      this.#recordHooks,
      this.#options.urlDrivers ?? [],
      this.#options.siblingWaitTimeout ?? DEFAULT_SIBLING_WAIT_TIMEOUT,
    )
  }

  /**
   * Runs `work` in a new transaction that is current for every call it makes: commits when it
   * returns (aborts instead when doomed), aborts when it throws and rethrows.
   *
   * @example
   * ```ts
   * await manager.run(async () => {
   *   await placeOrder(order)        // joins `orders` through manager.join(...)
   *   await recordPayment(order)     // joins `ledger`: both commit together
   * })
   * ```
   */
  async run<Result>(work: (transaction: ManagedTransaction) => Promise<Result>): Promise<Result> {
    const transaction = this.#create()
    transaction.endsWithRun = true
    return this.#storage.run(transaction, async () => {
      let result: Result
      try {
        result = await work(transaction)
      } catch (error) {
        if (transaction.status === 'active') await transaction.abort()
        throw error
      }
      if (transaction.status === 'active') {
        if (transaction.isDoomed) {
          await transaction.abort()
        } else {
          try {
            await transaction.commit()
          } catch (error) {
            // Refused before it began (it can only be aborted): abort, and say why.
            if (transaction.status === 'active') await transaction.abort()
            throw error
          }
        }
      }
      return result
    })
  }

  /**
   * Runs `work` in a transaction like {@link run}, and reruns the whole transaction when it fails
   * with a retryable error (a serialization failure or a deadlock, or what `shouldRetry` accepts),
   * after a capped exponential backoff with full jitter. Never after an outcome-unknown commit.
   *
   * @example
   * ```ts
   * const balance = await manager.retry(async (tx) => {
   *   const db = await tx.join('accounts', accounts)
   *   await db.query('set transaction isolation level serializable')
   *   return transfer(db, from, to, amount)
   * }, { attempts: 5 })
   * ```
   */
  async retry<Result>(
    work: (transaction: ManagedTransaction) => Promise<Result>,
    options: RetryOptions = {},
  ): Promise<Result> {
    checkOptionNames(options, RETRY_OPTIONS, 'manager.retry()')
    const { attempts, ...backoff } = options
    for await (const attempt of this.attempts(attempts ?? 3, backoff)) {
      const outcome = await attempt.run(work)
      if (outcome.done) return outcome.value
    }
    throw new TypeError('unreachable: the last attempt rethrows')
  }

  /**
   * Zope's `attempts()`: yields up to `count` attempts; each runs the whole transaction. The loop
   * ends when one succeeds; after a retryable failure (see {@link retry}) it backs off and yields
   * the next; any other failure, or the last attempt's, is thrown.
   *
   * @example
   * ```ts
   * for await (const attempt of manager.attempts(3)) {
   *   await attempt.run(async (tx) => {
   *     const db = await tx.join('accounts', accounts)
   *     await db.query('update accounts set balance = balance - 10 where id = 1')
   *   })
   * }
   * ```
   */
  attempts(
    count: number,
    options: Omit<RetryOptions, 'attempts'> = {},
  ): AsyncGenerator<TransactionAttempt, void, undefined> {
    return transactionAttempts((work) => this.run(work), count, options)
  }

  /**
   * Begins a transaction and makes it current for the calling async context from here on (for code
   * that cannot wrap its work in `run`). Unlike Zope, which aborts the current transaction and
   * begins another outside explicit mode, txkit refuses while one is current: aborting work that
   * other code in the same context still believes open would lose its writes silently.
   *
   * @throws TransactionStateError a transaction is current and not finished.
   *
   * @example
   * ```ts
   * const tx = manager.begin()
   * await manager.join('orders', ordersDb).then((orders) => orders.query('delete from carts'))
   * await manager.commit()
   * ```
   */
  begin(): ManagedTransaction {
    const current = this.current()
    if (current !== undefined && (current.status === 'active' || current.status === 'committing')) {
      throw new TransactionStateError(
        'A transaction is already current here: commit or abort it before beginning another.',
      )
    }
    const transaction = this.#create()
    this.#storage.enterWith(transaction)
    return transaction
  }

  /**
   * The current transaction's outbox, for code that has no `tx` at hand (a repository, an ORM
   * hook): `manager.outbox.send(destination, payload, options)` inside `manager.run` (or a
   * transaction begun with `manager.begin()`) is `tx.outbox.send(…)`. Outside one it throws a
   * `TransactionStateError` rather than send anything outside a transaction.
   *
   * @example
   * ```ts
   * await manager.run(async () => {
   *   await ordersKysely.insertInto('orders').values({ id: orderId, customer: 'ada', total: 30 }).execute()
   *   manager.outbox.send('order-events', { type: 'order-placed', orderId }, { key: orderId })
   * })
   * ```
   */
  readonly outbox: Pick<ManagedOutbox, 'send'> = {
    send: (destination, payload, options) => {
      const current = this.current()
      if (current === undefined || current.status !== 'active') {
        throw new TransactionStateError(
          'manager.outbox.send() needs a current transaction: call it inside manager.run(…) or a transaction begun with manager.begin().',
        )
      }
      return current.outbox.send(destination, payload, options)
    },
  }

  /** The current transaction, or undefined. */
  current(): ManagedTransaction | undefined {
    return this.#storage.getStore()
  }

  /**
   * The current transaction. Where none is: in explicit mode a TransactionStateError, otherwise a
   * new one, begun for the calling async context.
   */
  get(): ManagedTransaction {
    const current = this.current()
    // While committing, before-commit hooks still work in the transaction.
    if (current !== undefined && (current.status === 'active' || current.status === 'committing')) {
      return current
    }
    if (this.explicit) {
      throw new TransactionStateError(
        'No transaction is current: begin one with manager.begin() or manager.run(work) (explicit mode).',
      )
    }
    return this.begin()
  }

  /**
   * Joins `database` to the current transaction (see {@link ManagedTransaction.join}).
   *
   * @example
   * ```ts
   * async function placeOrder(order: Order) {
   *   const orders = await manager.join('orders', ordersDb)
   *   await orders.query('insert into orders (id, total) values ($1, $2)', [order.id, order.total])
   * }
   * ```
   */
  async join<Raw>(name: string, database: Database<Raw>): Promise<BranchHandle<Raw>> {
    return this.get().join(name, database)
  }

  /** Commits the current transaction. */
  async commit(): Promise<CommitResult | undefined> {
    return this.get().commit()
  }

  /**
   * Aborts the current transaction. Where none is current (or the current one has ended), as in
   * Zope: in explicit mode a TransactionStateError, otherwise nothing to do (a transaction begun
   * here would be aborted at once).
   *
   * @example
   * ```ts
   * manager.begin()
   * await (await manager.join('orders', ordersDb)).query('delete from carts')
   * await manager.abort() // nothing of it is committed
   * ```
   */
  async abort(): Promise<void> {
    const current = this.current()
    if (current === undefined || current.status === 'aborted' || current.status === 'committed') {
      if (this.explicit) {
        throw new TransactionStateError(
          'No transaction is current: there is nothing to abort (explicit mode).',
        )
      }
      return
    }
    return current.abort()
  }

  /**
   * Registers record hooks for a table (or record type): they run for the writes transactions
   * report with `tx.recordWrite(kind, table, record)`.
   *
   * @example
   * ```ts
   * manager.onRecord('accounts', {
   *   afterInsert: (account) => search.index(account),
   *   failedInsert: (account, { outcome }) => log.warn({ account, outcome }, 'account not created'),
   * })
   * ```
   */
  onRecord(table: string, hooks: RecordHooks): void {
    const registered = this.#recordHooks.get(table)
    if (registered) registered.push(hooks)
    else this.#recordHooks.set(table, [hooks])
  }

  /** Deletes queued decision rows of finished transactions; call before exiting. */
  close(): Promise<void> {
    return this.coordinator.close()
  }

  /** `close()`, for `await using manager = createTransactionManager(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

/**
 * Creates a transaction manager: an ambient current transaction over the two-phase engine.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 *
 * const manager = createTransactionManager({ decisionLog: ordersDb, prefix: 'shop' })
 * await manager.run(async (tx) => {
 *   const orders = await tx.join('orders', ordersDb)
 *   await orders.query('insert into orders (id) values ($1)', [42])
 *   tx.afterCommit((outcome) => outcome === 'committed' && enqueueEmail(42))
 * })
 * ```
 */
export function createTransactionManager(options: TransactionManagerOptions): TransactionManager {
  return new TransactionManager(options)
}
