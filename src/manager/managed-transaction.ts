import type { Coordinator } from '../commit/coordinator.js'
import type { TransactionSavepoint } from '../commit/distributed-transaction.js'
import type { Database } from '../database/database.js'
import type { UrlDriver } from '../database/url-driver.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { DatabaseLock } from '../lock/database-lock.js'
import type { LockKey } from '../lock/lock-key.js'
import type { LockModesOf } from '../lock/lock-options.js'
import type { BranchHandle } from '../protocol/branch.js'
import type { CommitResult } from '../protocol/commit-result.js'
import { registerBranchTurns } from '../runner/branch-turns.js'
import type { Logger } from '../util/logger.js'
import { ManagedOutbox } from './managed-outbox.js'
import { inSavepoint, type ManagedSavepoint, savepointHandle } from './managed-savepoints.js'
import type { RecordHooks, RecordKind } from './record-hooks.js'
import { RecordedWrites } from './recorded-writes.js'
import type { TransactionResource } from './resource-database.js'
import { SavepointScopes } from './savepoint-scopes.js'
import { type CommitOutcome, TransactionHooks } from './transaction-hooks.js'
import { type ManagedStatus, TransactionLifecycle } from './transaction-lifecycle.js'
import { type TransactionLockOptions, TransactionLocks } from './transaction-locks.js'
import { TransactionNotifications } from './transaction-notifications.js'
import { TransactionParticipants } from './transaction-participants.js'

export type BeforeCommitHook = (transaction: ManagedTransaction) => void | Promise<void>
export type AfterCommitHook = (
  outcome: CommitOutcome,
  transaction: ManagedTransaction,
) => void | Promise<void>
export type AfterAbortHook = (transaction: ManagedTransaction) => void | Promise<void>

/**
 * A transaction of a {@link TransactionManager}: databases join it when first used, hooks run
 * around its end, notifications go out once it is committed. Several databases commit through the
 * same two-phase engine as `coordinator.transaction`; one commits in one phase.
 *
 * The work is done by its parts: the participants (engine, connections, resources), the hooks,
 * the recorded writes, the notifications, the locks, the savepoint turns, and the lifecycle that
 * ends the transaction through them.
 */
export class ManagedTransaction {
  readonly #participants: TransactionParticipants
  readonly #hooks: TransactionHooks<ManagedTransaction>
  readonly #notifications = new TransactionNotifications()
  readonly #records: RecordedWrites
  readonly #locks = new TransactionLocks()
  readonly #lifecycle: TransactionLifecycle<ManagedTransaction>
  /** The messages it sends once committed (the manager's `outbox` option; docs/outbox.md). */
  readonly outbox: ManagedOutbox
  /**
   * @internal Set by `manager.run`: the transaction's context ends with it, so a tool's query in
   * it once the transaction has ended comes from a flow that outlived the work, not from a hook.
   */
  endsWithRun = false
  /** @internal Savepoints as turns, for the integrations' transactions and statements. */
  readonly scopes: SavepointScopes

  /** @internal Use `manager.begin()` or `manager.run()`. */
  constructor(
    coordinator: Coordinator,
    logger: Logger,
    recordHooks: ReadonlyMap<string, readonly RecordHooks[]>,
    urlDrivers: readonly UrlDriver[],
    siblingWaitTimeout: number,
  ) {
    const participants = new TransactionParticipants(coordinator, urlDrivers)
    this.#participants = participants
    this.#records = new RecordedWrites(recordHooks)
    this.#hooks = new TransactionHooks(logger, () => participants.gtrid)
    this.scopes = new SavepointScopes({
      create: () => this.#savepoint(),
      waitTimeout: siblingWaitTimeout,
      describe: () => `Transaction ${participants.gtrid ?? '(not begun)'}`,
      onUndone: (error) => this.#lifecycle.markUncommittable(error),
    })
    this.outbox = new ManagedOutbox(
      coordinator.outbox,
      () => this.#lifecycle.assertOpen('send a message'),
      () => this.scopes.besideSibling(),
    )
    this.#lifecycle = new TransactionLifecycle({
      outbox: this.outbox,
      transaction: this,
      participants,
      hooks: this.#hooks,
      records: this.#records,
      notifications: this.#notifications,
      locks: this.#locks,
      scopes: this.scopes,
      logger,
    })
  }

  get status(): ManagedStatus {
    return this.#lifecycle.status
  }

  /** The global transaction id, once a database has joined. */
  get gtrid(): string | undefined {
    return this.#participants.gtrid
  }

  get isDoomed(): boolean {
    return this.#lifecycle.isDoomed
  }

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
    this.#lifecycle.assertOpen(`join "${name}"`)
    const handle = await this.#participants.join(name, database)
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
    this.#lifecycle.assertOpen('join a connection string')
    const database = await this.#participants.openUrl(url, name)
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
    this.#lifecycle.assertOpen('join a resource')
    await this.#participants.joinResource(resource, (name, database) => this.join(name, database))
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
    this.#lifecycle.assertActive('take a lock')
    return this.#locks.take(database, key, options, async () => {
      const branch = await this.join(database.name, database)
      return (await this.#participants.engine()).sessionOf(branch)
    })
  }

  /** The user-written resources that joined, for retry decisions. */
  get resources(): readonly TransactionResource[] {
    return this.#participants.resources
  }

  /**
   * Runs before the commit, in registration order; may join databases and add hooks (they run too).
   * A throw aborts the transaction and is what `commit()` rejects with.
   */
  beforeCommit(hook: BeforeCommitHook): void {
    this.#lifecycle.assertOpen('add a before-commit hook')
    this.#hooks.beforeCommit(hook)
  }

  /**
   * Runs once the commit's outcome is known: `committed`, `aborted`, or `unknown` (the two-phase
   * commit's outcome could not be learned here; recovery settles it). A throw is logged; the other
   * hooks still run and the commit's result does not change. As in Zope, an after-commit hook may
   * add after-commit hooks: they run after it, in this round.
   */
  afterCommit(hook: AfterCommitHook): void {
    if (this.#hooks.runningAfter !== 'commit')
      this.#lifecycle.assertOpen('add an after-commit hook')
    this.#hooks.afterCommit(hook)
  }

  /**
   * Runs whenever the transaction ends rolled back (abort, a throw in `run`, a failed commit).
   * After-abort hooks may add more, which run too.
   */
  afterAbort(hook: AfterAbortHook): void {
    if (this.#hooks.runningAfter !== 'abort') this.#lifecycle.assertOpen('add an after-abort hook')
    this.#hooks.afterAbort(hook)
  }

  /**
   * Sends a PostgreSQL notification once the transaction is committed, never if it is not. (A
   * prepared transaction cannot NOTIFY, so txkit sends it after the commit, outside it.)
   *
   * @throws ConfigurationError for a database without notifications (MySQL/MariaDB).
   */
  notify(database: Database, channel: string, payload = ''): void {
    this.#lifecycle.assertOpen('queue a notification')
    this.#notifications.queue(database, channel, payload)
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
    this.#lifecycle.assertOpen('record a write')
    this.#records.record(kind, table, record)
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
    this.#lifecycle.assertActive('set a savepoint')
    if (work === undefined) {
      return savepointHandle(this.scopes, undefined, () =>
        this.#lifecycle.assertActive('set a savepoint'),
      )
    }
    if (typeof work !== 'function') {
      throw new ConfigurationError(
        'tx.savepoint() takes nothing (a savepoint handle) or the work to run inside it (a function).',
      )
    }
    return inSavepoint(this.scopes, () => work(this))
  }

  /** A savepoint on every branch that also forgets the writes recorded since, when rolled back to. */
  async #savepoint(): Promise<TransactionSavepoint> {
    this.#lifecycle.assertActive('set a savepoint')
    const inner = await (await this.#participants.engine()).savepoint()
    const mark = this.#records.mark()
    const sent = this.outbox.mark()
    return {
      name: inner.name,
      rollback: async () => {
        await inner.rollback()
        this.#records.forgetSince(mark)
        this.outbox.forgetSince(sent)
      },
      release: () => inner.release(),
    }
  }

  /** From now on the transaction can only abort; `commit()` refuses, `run()` aborts it. */
  doom(): void {
    this.#lifecycle.doom()
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
    return this.#lifecycle.commit()
  }

  /** Rolls back every joined database and runs the after-abort hooks. A no-op once aborted. */
  async abort(): Promise<void> {
    return this.#lifecycle.abort()
  }
}
