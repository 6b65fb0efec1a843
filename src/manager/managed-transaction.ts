import { AsyncLocalStorage } from 'node:async_hooks'
import type { Coordinator } from '../commit/coordinator.js'
import type {
  DistributedTransaction,
  TransactionSavepoint,
} from '../commit/distributed-transaction.js'
import type { Database } from '../driver/database.js'
import type { UrlDriver } from '../driver/url-driver.js'
import { withConnection } from '../driver/with-connection.js'
import { isBranchTransactionEndedError } from '../errors/branch-transaction-ended-error.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { isOutcomeUnknownError } from '../errors/outcome-unknown-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import type { DatabaseLock } from '../lock/database-lock.js'
import type { LockKey } from '../lock/lock-key.js'
import type { LockModesOf } from '../lock/lock-options.js'
import type { BranchHandle } from '../protocol/branch.js'
import type { CommitResult } from '../protocol/commit-result.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import { registerBranchTurns } from './branch-turns.js'
import {
  type RecordedWrite,
  type RecordHooks,
  type RecordKind,
  runBeforeRecordHooks,
  runRecordHooks,
} from './record-hooks.js'
import { resourceDatabase, type TransactionResource } from './resource-database.js'
import { type SavepointScope, SavepointScopes } from './savepoint-scopes.js'
import { type TransactionLockOptions, TransactionLocks } from './transaction-locks.js'

export type { TransactionLockOptions }

import { UrlConnections } from './url-connections.js'

/** True in the flow of an after-commit, after-abort or record hook. */
const inAfterHook = new AsyncLocalStorage<boolean>()

/** @internal Whether the calling flow runs in a transaction's after-hook. */
export function runningAfterHook(): boolean {
  return inAfterHook.getStore() === true
}

/** How a commit ended, as after-commit hooks are told: never a guess. */
export type CommitOutcome = 'committed' | 'aborted' | 'unknown'

/** Where a managed transaction stands. */
export type ManagedStatus = 'active' | 'committing' | 'committed' | 'aborted' | 'unknown'

export type BeforeCommitHook = (transaction: ManagedTransaction) => void | Promise<void>
export type AfterCommitHook = (
  outcome: CommitOutcome,
  transaction: ManagedTransaction,
) => void | Promise<void>
export type AfterAbortHook = (transaction: ManagedTransaction) => void | Promise<void>

/**
 * A savepoint set with the handle form of `tx.savepoint()`. Savepoints nested in it are set with
 * its own `savepoint()`: txkit then knows they are inside it, not beside it.
 */
export interface ManagedSavepoint extends TransactionSavepoint {
  /** Sets a savepoint inside this one (from the same async flow). */
  savepoint(): Promise<ManagedSavepoint>
}

interface Notification {
  readonly database: Database
  readonly channel: string
  readonly payload: string
}

/**
 * A transaction of a {@link TransactionManager}: databases join it when first used, hooks run
 * around its end, notifications go out once it is committed. Several databases commit through the
 * same two-phase engine as `coordinator.transaction`; one commits in one phase.
 */
export class ManagedTransaction {
  readonly #coordinator: Coordinator
  readonly #logger: Logger
  #engine: Promise<DistributedTransaction> | undefined
  #status: ManagedStatus = 'active'
  #doomed = false
  readonly #beforeCommit: BeforeCommitHook[] = []
  readonly #afterCommit: AfterCommitHook[] = []
  readonly #afterAbort: AfterAbortHook[] = []
  readonly #notifications: Notification[] = []
  readonly #records: RecordedWrite[] = []
  readonly #resources = new Map<string, Promise<BranchHandle>>()
  readonly #joinedResources: TransactionResource[] = []
  /** Pools opened for connection strings, by string: one connection each, closed at the end. */
  readonly #urlConnections: UrlConnections
  readonly #recordHooks: ReadonlyMap<string, readonly RecordHooks[]>
  readonly #locks = new TransactionLocks()
  /**
   * @internal Set by `manager.run`: the transaction's context ends with it, so a tool's query in
   * it once the transaction has ended comes from a flow that outlived the work, not from a hook.
   */
  endsWithRun = false
  /** @internal Savepoints as turns, for the integrations' transactions and statements. */
  readonly scopes: SavepointScopes
  /** Why only an abort remains: a rollback undid writes that reached it from outside. */
  #uncommittable: TransactionStateError | undefined

  /** @internal Use `manager.begin()` or `manager.run()`. */
  constructor(
    coordinator: Coordinator,
    logger: Logger,
    recordHooks: ReadonlyMap<string, readonly RecordHooks[]>,
    urlDrivers: readonly UrlDriver[],
    siblingWaitTimeout: number,
  ) {
    this.#urlConnections = new UrlConnections(urlDrivers)
    this.#coordinator = coordinator
    this.#logger = logger
    this.#recordHooks = recordHooks
    this.scopes = new SavepointScopes({
      create: () => this.#savepoint(),
      waitTimeout: siblingWaitTimeout,
      describe: () => `Transaction ${this.#gtrid ?? '(not begun)'}`,
      onUndone: (error) => {
        this.#uncommittable ??= error
      },
    })
  }

  #ensureEngine(): Promise<DistributedTransaction> {
    this.#engine ??= this.#coordinator.begin().then((engine) => {
      this.#gtrid = engine.gtrid
      return engine
    })
    return this.#engine
  }

  get status(): ManagedStatus {
    return this.#status
  }

  /** The global transaction id, once a database has joined. */
  get gtrid(): string | undefined {
    return this.#gtrid
  }
  #gtrid: string | undefined

  get isDoomed(): boolean {
    return this.#doomed
  }

  #assertActive(action: string): void {
    if (this.#status !== 'active') {
      throw new TransactionStateError(`Cannot ${action}: the transaction is ${this.#status}.`)
    }
  }

  /** Hooks and notifications may still be added by before-commit hooks, until the commit proper. */
  #assertOpen(action: string): void {
    if (this.#status !== 'active' && !(this.#status === 'committing' && !this.#sealed)) {
      throw new TransactionStateError(`Cannot ${action}: the transaction is ${this.#status}.`)
    }
  }
  #sealed = false
  /** Which after-hooks are running: as in Zope, they may add hooks of their kind, which run too. */
  #runningAfter: 'commit' | 'abort' | undefined

  /**
   * Joins a database: opens its branch on a dedicated connection the first time, returns the same
   * branch after (under any name).
   *
   * @example
   * ```ts
   * await manager.run(async (tx) => {
   *   const orders = await tx.join('orders', ordersDb)
   *   await orders.query('insert into orders (id) values ($1)', [id])
   * })
   * ```
   */
  async join<Raw>(name: string, database: Database<Raw>): Promise<BranchHandle<Raw>> {
    this.#assertOpen(`join "${name}"`)
    const handle = await (await this.#ensureEngine()).join(name, database)
    registerBranchTurns(handle, this.scopes)
    return handle
  }

  /**
   * Joins the database at a connection string: the first call opens a connection for it, the same
   * string returns the same branch and connection, and the connection is closed when the
   * transaction ends. `name` is its stable name (default: the database name in the URL).
   *
   * @example
   * ```ts
   * await manager.run(async (tx) => {
   *   const audit = await tx.connect(process.env.AUDIT_URL ?? '', 'audit')
   *   await audit.query('insert into audit_log (event) values ($1)', ['order placed'])
   * })
   * ```
   */
  async connect(url: string, name?: string): Promise<BranchHandle> {
    this.#assertOpen('join a connection string')
    const database = await this.#urlConnections.open(url, name)
    return this.join(database.name, database)
  }

  /**
   * Joins a user-written resource (see {@link TransactionResource}); the same `sortKey` joins once.
   * Alone it commits in one phase; with others it is prepared, then committed after the decision.
   *
   * @example
   * ```ts
   * await manager.run(async (tx) => {
   *   await tx.joinResource(outbox)              // prepare writes the messages to a spool file
   *   await (await tx.join('orders', orders)).query('insert into orders (id) values ($1)', [id])
   * })
   * ```
   */
  async joinResource(resource: TransactionResource): Promise<void> {
    this.#assertOpen('join a resource')
    let joining = this.#resources.get(resource?.sortKey)
    if (joining === undefined) {
      const database = resourceDatabase(resource)
      joining = this.join(database.name, database)
      this.#resources.set(resource.sortKey, joining)
      this.#joinedResources.push(resource)
    }
    await joining
  }

  /**
   * Takes a lock that ends with this transaction. On PostgreSQL it is a transaction-scoped advisory
   * lock in the database's branch (joined if needed): released by COMMIT or ROLLBACK, and held by a
   * prepared branch until it is committed. MySQL/MariaDB have no transaction-scoped lock: txkit
   * takes a session lock on a connection of its own and releases it once the outcome is known.
   * A bounded or abortable wait runs in a savepoint, so a timeout leaves the transaction usable.
   *
   * @throws LockTimeoutError / LockWaitAbortedError as `DatabaseLock.acquire`.
   * @throws LockReentryError the transaction holds this lock already.
   * @example
   * ```ts
   * await manager.run(async (tx) => {
   *   await tx.lock(orders, `customer:${customerId}`, { timeout: 2_000 })
   *   await (await tx.join('orders', orders)).query('update customers set credit = credit - $1 where id = $2', [amount, customerId])
   * })
   * ```
   */
  async lock<Source extends Database>(
    database: Source,
    key: LockKey,
    options: TransactionLockOptions<LockModesOf<Source>> = {},
  ): Promise<DatabaseLock> {
    this.#assertActive('take a lock')
    return this.#locks.take(database, key, options, async () => {
      const branch = await this.join(database.name, database)
      return (await this.#ensureEngine()).sessionOf(branch)
    })
  }

  /** The user-written resources that joined, for retry decisions. */
  get resources(): readonly TransactionResource[] {
    return this.#joinedResources
  }

  /**
   * Runs before the commit, in registration order; may join databases and add hooks (they run too).
   * A throw aborts the transaction and is what `commit()` rejects with.
   */
  beforeCommit(hook: BeforeCommitHook): void {
    this.#assertOpen('add a before-commit hook')
    this.#beforeCommit.push(hook)
  }

  /**
   * Runs once the commit's outcome is known: `committed`, `aborted`, or `unknown` (the two-phase
   * commit's outcome could not be learned here; recovery settles it). A throw is logged; the other
   * hooks still run and the commit's result does not change. As in Zope, an after-commit hook may
   * add after-commit hooks: they run after it, in this round.
   */
  afterCommit(hook: AfterCommitHook): void {
    if (this.#runningAfter !== 'commit') this.#assertOpen('add an after-commit hook')
    this.#afterCommit.push(hook)
  }

  /**
   * Runs whenever the transaction ends rolled back (abort, a throw in `run`, a failed commit).
   * After-abort hooks may add more, which run too.
   */
  afterAbort(hook: AfterAbortHook): void {
    if (this.#runningAfter !== 'abort') this.#assertOpen('add an after-abort hook')
    this.#afterAbort.push(hook)
  }

  /**
   * Sends a PostgreSQL notification once the transaction is committed, never if it is not. (A
   * prepared transaction cannot NOTIFY, so txkit sends it after the commit, outside it.)
   *
   * @throws ConfigurationError for a database without notifications (MySQL/MariaDB).
   */
  notify(database: Database, channel: string, payload = ''): void {
    this.#assertOpen('queue a notification')
    if (database.dialect.notify === undefined) {
      throw new ConfigurationError(
        `Database "${database.name}" (${database.dialect.displayName}) has no NOTIFY; notify through a PostgreSQL database.`,
      )
    }
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > 63) {
      throw new ConfigurationError('A notification channel is a name of 1 to 63 characters.')
    }
    this.#notifications.push({ database, channel, payload: String(payload) })
  }

  /**
   * Tells the transaction about a write, for the record hooks registered with
   * `manager.onRecord(table, hooks)`.
   *
   * @example
   * ```ts
   * await orders.query('insert into accounts (id, owner) values ($1, $2)', [7, 'ada'])
   * tx.recordWrite('insert', 'accounts', { id: 7, owner: 'ada' })
   * ```
   */
  recordWrite(kind: RecordKind, table: string, record: unknown): void {
    this.#assertOpen('record a write')
    if (kind !== 'insert' && kind !== 'update' && kind !== 'delete') {
      throw new ConfigurationError(
        `A write is an insert, an update or a delete, not ${JSON.stringify(kind)}.`,
      )
    }
    this.#records.push({ kind, table, record })
  }

  /**
   * Sets a savepoint across every joined database (and those that join later, from their join
   * point). Rolling back to it also forgets the writes recorded since: they get no record hooks.
   *
   * With `work`, runs it inside the savepoint: released when `work` resolves, rolled back (and
   * the error rethrown) when it throws. Savepoints, ORM transactions and statements of `work`'s
   * async flow are inside it; another async flow's savepoint or ORM transaction waits until it
   * has ended (bounded by the manager's `siblingWaitTimeout`), and so does another flow's
   * statement, since a rollback of this savepoint would undo it. This is the form for concurrent
   * flows and for code that may be called inside a savepoint.
   *
   * Without `work`, answers the savepoint's handle. It cannot know its async flow: while it is
   * open, a second savepoint or ORM transaction from anywhere is refused at once with a
   * {@link ConcurrentSavepointError} (nest with `outer.savepoint()` instead), and every
   * statement of the transaction is inside it: use it from one flow at a time.
   *
   * @throws ConcurrentSavepointError refused beside an open handle, or its turn did not come.
   * @example
   * ```ts
   * await Promise.all(batches.map((rows) =>
   *   tx.savepoint(() => importBatch(rows)).catch(() => undefined), // a failed batch is undone alone
   * ))
   * const savepoint = await tx.savepoint()
   * await importBatch(rows).catch(() => savepoint.rollback())
   * ```
   */
  savepoint(): Promise<ManagedSavepoint>
  savepoint<Result>(work: (transaction: ManagedTransaction) => Promise<Result>): Promise<Result>
  savepoint<Result>(
    work?: (transaction: ManagedTransaction) => Promise<Result>,
  ): Promise<ManagedSavepoint | Result> {
    this.#assertActive('set a savepoint')
    if (work === undefined) return this.#handle(undefined)
    if (typeof work !== 'function') {
      throw new ConfigurationError(
        'tx.savepoint() takes nothing (a savepoint handle) or the work to run inside it (a function).',
      )
    }
    return this.#inSavepoint(work)
  }

  async #handle(parent: SavepointScope | undefined): Promise<ManagedSavepoint> {
    const scope = await this.scopes.open('handle', 'tx.savepoint()', parent)
    const inner = scope.savepoint as TransactionSavepoint
    return {
      name: inner.name,
      savepoint: async () => {
        this.#assertActive('set a savepoint')
        if (scope.ended) await inner.release() // refused: it no longer exists
        return this.#handle(scope)
      },
      rollback: async () => {
        await inner.rollback()
        // Savepoints set inside it are gone.
        if (scope.child !== undefined) this.scopes.end(scope.child)
      },
      release: async () => {
        await inner.release()
        this.scopes.end(scope)
      },
    }
  }

  async #inSavepoint<Result>(
    work: (transaction: ManagedTransaction) => Promise<Result>,
  ): Promise<Result> {
    const scope = await this.scopes.open('callback', 'tx.savepoint(work)')
    const inner = scope.savepoint as TransactionSavepoint
    let result: Result
    try {
      result = await this.scopes.within(scope, () => work(this))
    } catch (error) {
      try {
        await inner.rollback()
        await inner.release()
      } catch {
        // The transaction is uncommittable now (see DistributedTransaction.uncommittable).
      } finally {
        this.scopes.end(scope)
      }
      throw error
    }
    try {
      await inner.release()
    } finally {
      this.scopes.end(scope)
    }
    return result
  }

  /** A savepoint on every branch that also forgets the writes recorded since, when rolled back to. */
  async #savepoint(): Promise<TransactionSavepoint> {
    this.#assertActive('set a savepoint')
    const inner = await (await this.#ensureEngine()).savepoint()
    const mark = this.#records.length
    return {
      name: inner.name,
      rollback: async () => {
        await inner.rollback()
        this.#records.length = Math.min(this.#records.length, mark)
      },
      release: () => inner.release(),
    }
  }

  /** From now on the transaction can only abort; `commit()` refuses, `run()` aborts it. */
  doom(): void {
    this.#assertActive('doom the transaction')
    this.#doomed = true
  }

  /**
   * Runs the before-commit hooks, commits every joined database (two-phase when there are
   * several), then sends the notifications and runs the after-commit hooks.
   *
   * @throws TransactionStateError when doomed, when a savepoint rollback failed part-way (only
   *   `abort()` is possible then), or when already finished.
   * @throws TransactionRolledBackError / OutcomeUnknownError as `DistributedTransaction.commit`.
   */
  async commit(): Promise<CommitResult | undefined> {
    this.#assertActive('commit')
    if (this.#doomed) {
      throw new TransactionStateError('The transaction is doomed: it can only be aborted.')
    }
    // A savepoint rollback that failed part-way: only abort remains (Zope's COMMITFAILED).
    const uncommittable =
      this.#uncommittable ?? (await this.#engine?.catch(() => undefined))?.uncommittable
    if (uncommittable !== undefined) throw uncommittable
    this.#status = 'committing'
    try {
      return await this.#commit()
    } finally {
      await this.#urlConnections.closeAll()
    }
  }

  async #commit(): Promise<CommitResult | undefined> {
    try {
      for (let index = 0; index < this.#beforeCommit.length; index++) {
        await this.#beforeCommit[index]?.(this)
      }
      await this.#runBeforeRecordHooks()
      if (this.#uncommittable !== undefined) throw this.#uncommittable
    } catch (error) {
      await this.#rollBack()
      await this.#runRecordHooks('failed', 'aborted')
      await this.#runAfterCommit('aborted')
      await this.#runAfterAbort()
      throw error
    }
    this.#sealed = true
    this.scopes.close('the transaction is committing')
    let result: CommitResult | undefined
    try {
      result = this.#engine === undefined ? undefined : await (await this.#engine).commit()
    } catch (error) {
      // A branch ended behind txkit's back may have committed its work: not "aborted".
      if (isOutcomeUnknownError(error) || isBranchTransactionEndedError(error)) {
        this.#status = 'unknown'
        await this.#runRecordHooks('failed', 'unknown')
        await this.#runAfterCommit('unknown')
      } else {
        this.#status = 'aborted'
        await this.#runRecordHooks('failed', 'aborted')
        await this.#runAfterCommit('aborted')
        await this.#runAfterAbort()
      }
      throw error
    }
    this.#status = 'committed'
    await this.#sendNotifications()
    await this.#runRecordHooks('after')
    await this.#runAfterCommit('committed')
    return result
  }

  /** Rolls back every joined database and runs the after-abort hooks. A no-op once aborted. */
  async abort(): Promise<void> {
    if (this.#status === 'aborted') return
    this.#assertActive('abort')
    let ended: unknown
    try {
      await this.#rollBack()
    } catch (error) {
      if (!isBranchTransactionEndedError(error)) throw error
      // A branch's work may be committed: its records' outcome is unknown, not aborted.
      ended = error
      this.#status = 'unknown'
    }
    await this.#urlConnections.closeAll()
    await this.#runRecordHooks('failed', ended === undefined ? 'aborted' : 'unknown')
    await this.#runAfterAbort()
    if (ended !== undefined) throw ended
  }

  async #rollBack(): Promise<void> {
    this.#status = 'aborted'
    this.scopes.close('the transaction was rolled back')
    const engine = await this.#engine?.catch(() => undefined)
    if (engine?.status === 'active') await engine.rollback()
  }

  async #sendNotifications(): Promise<void> {
    for (const { database, channel, payload } of this.#notifications) {
      try {
        await withConnection(database, async (connection) =>
          database.dialect.notify?.(connection, channel, payload),
        )
      } catch (error) {
        this.#logger.error(
          { gtrid: this.#gtrid, database: database.name, channel, error: errorMessage(error) },
          'txkit: a notification could not be sent after the commit',
        )
      }
    }
  }

  async #runBeforeRecordHooks(): Promise<void> {
    await runBeforeRecordHooks(this.#records, this.#recordHooks)
  }

  async #runRecordHooks(phase: 'after' | 'failed', outcome?: 'aborted' | 'unknown'): Promise<void> {
    await runRecordHooks(this.#records, this.#recordHooks, phase, outcome, (kind, run) =>
      this.#safely(kind, run),
    )
  }

  /** Locks end with the transaction: before any after-hook, once the outcome is known. */
  async #endLocks(): Promise<void> {
    await this.#locks.endAll((end) => this.#safely('lock release', end))
  }

  async #runAfterCommit(outcome: CommitOutcome): Promise<void> {
    await this.#endLocks()
    this.#runningAfter = 'commit'
    // Index by index: hooks added meanwhile are run too.
    for (let index = 0; index < this.#afterCommit.length; index++) {
      const hook = this.#afterCommit[index] as AfterCommitHook
      await this.#safely('after-commit', () => hook(outcome, this))
    }
    this.#runningAfter = undefined
  }

  async #runAfterAbort(): Promise<void> {
    await this.#endLocks()
    this.#runningAfter = 'abort'
    for (let index = 0; index < this.#afterAbort.length; index++) {
      const hook = this.#afterAbort[index] as AfterAbortHook
      await this.#safely('after-abort', () => hook(this))
    }
    this.#runningAfter = undefined
  }

  /** A hook that throws is logged and never changes the outcome or stops the other hooks. */
  async #safely(kind: string, run: () => void | Promise<void>): Promise<void> {
    try {
      await inAfterHook.run(true, run)
    } catch (error) {
      this.#logger.error(
        { gtrid: this.#gtrid, hook: kind, error: errorMessage(error) },
        `txkit: an ${kind} hook threw; the transaction's outcome is unchanged`,
      )
    }
  }
}
