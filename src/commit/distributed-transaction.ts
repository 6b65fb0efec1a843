import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { isBranchTransactionEndedError } from '../errors/branch-transaction-ended-error.js'
import { isTransactionRolledBackError } from '../errors/transaction-rolled-back-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import { rollBackEverything, rolledBack } from '../protocol/abort.js'
import { COMMIT_OPTIONS, checkAcknowledge } from '../protocol/acknowledge.js'
import type { Branch, BranchHandle } from '../protocol/branch.js'
import type { ProtocolTransaction } from '../protocol/commit-protocol.js'
import type { Acknowledge, CommitOptions, CommitResult } from '../protocol/commit-result.js'
import type { TransactionRun } from '../protocol/transaction-run.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { errorMessage } from '../util/error-message.js'
import type { CommitProtocolName } from '../xid/xid.js'
import type { DatabaseGroup } from './database-group.js'
import { TransactionOutbox } from './transaction-outbox.js'
import { endTransactionSpan } from './transaction-span.js'

/**
 * Where a transaction stands. `outcome-unknown` is final for this process: recovery decides.
 * `not-atomic`: a branch was found outside its transaction, ended by something txkit did not send;
 * its work may be committed while the rest was rolled back (`BranchTransactionEndedError`).
 */
export type TransactionStatus =
  | 'active'
  | 'committing'
  | 'rolling-back'
  | 'committed'
  | 'rolled-back'
  | 'outcome-unknown'
  | 'not-atomic'

/** A savepoint across every branch of a transaction. */
export interface TransactionSavepoint {
  readonly name: string
  /** Undoes what every branch did since the savepoint; the savepoint stays. */
  rollback(): Promise<void>
  /** Forgets the savepoint (and any set after it); the work stays. */
  release(): Promise<void>
}

/** Opens one more branch of an open transaction at `index`. */
type OpenBranch = (group: DatabaseGroup, index: number) => Promise<Branch>

/**
 * One logical transaction over several databases, begun by `coordinator.begin(...)`. Work through
 * `branches`, then `commit()` or `rollback()`. With `await using`, leaving the scope without a
 * commit rolls back; after an outcome-unknown commit it does nothing (recovery decides).
 */
export class DistributedTransaction<Branches = Record<string, BranchHandle>>
  implements AsyncDisposable
{
  readonly gtrid: string
  readonly protocol: CommitProtocolName
  /** One handle per name given to `begin`; names on one database share a handle. */
  readonly branches: Branches
  #status: TransactionStatus = 'active'
  readonly #run: TransactionRun
  readonly #protocol: ProtocolTransaction
  /** When `commit()` returns, unless the commit says otherwise. */
  readonly #acknowledge: Acknowledge
  readonly #openBranch: OpenBranch | undefined
  readonly #joining = new Map<string, Promise<Branch>>()
  #nextIndex: number
  /** Savepoints in force, oldest first; branches that join later get them at their join point. */
  readonly #savepoints: string[] = []
  #savepointCount = 0
  #uncommittable: TransactionStateError | undefined
  /** The messages it sends once committed (`coordinator`'s `outbox` option). */
  readonly outbox: TransactionOutbox
  readonly #outboxMarks = new Map<string, number>()

  /** @internal Use `coordinator.begin`. */
  constructor(
    run: TransactionRun,
    protocol: ProtocolTransaction,
    acknowledge: Acknowledge,
    branches: Branches,
    openBranch?: OpenBranch,
    outboxFallback?: Database,
  ) {
    this.gtrid = run.gtrid
    this.protocol = run.protocol
    this.branches = branches
    this.#run = run
    this.#protocol = protocol
    this.#acknowledge = acknowledge
    this.#openBranch = openBranch
    this.#nextIndex = run.branches.length
    this.outbox = new TransactionOutbox({
      run,
      open: openBranch !== undefined,
      assertActive: () => this.assertActive(),
      join: async (database) => void (await this.join(database.name, database)),
      fallback: outboxFallback,
    })
  }

  /**
   * Adds a database to a transaction begun without databases (`coordinator.begin()`), opening its
   * branch on a dedicated connection; the same database joined again (under any name) returns the
   * same branch. The handle also appears in `branches` under `name`.
   *
   * @throws TransactionStateError when the transaction is not active or was begun with its databases.
   * @example
   * ```ts
   * await using tx = await coordinator.begin()
   * const orders = await tx.join('orders', ordersDb)
   * await orders.query('insert into orders (id) values ($1)', [id])
   * await tx.commit()
   * ```
   */
  async join<Raw>(name: string, database: Database<Raw>): Promise<BranchHandle<Raw>> {
    this.assertActive()
    if (this.#openBranch === undefined) {
      throw new TransactionStateError(
        `Transaction ${this.gtrid} was begun with its databases; join() needs one begun with coordinator.begin().`,
      )
    }
    assertDatabase(database, name)
    let joining = this.#joining.get(database.identity)
    if (joining === undefined) {
      // Savepoints in force reach the new branch at its join point, before anyone uses it.
      joining = this.#openBranch({ database, names: [name] }, this.#nextIndex++).then(
        async (branch) => {
          for (const savepoint of [...this.#savepoints]) {
            await branch.dialect.savepoint(branch.connection, savepoint, 'create')
          }
          return branch
        },
      )
      this.#joining.set(database.identity, joining)
      // A failed join can be retried; the index it took stays unused.
      joining.catch(() => this.#joining.delete(database.identity))
    }
    const branch = await joining
    if (!branch.names.includes(name)) branch.names.push(name)
    ;(this.branches as Record<string, BranchHandle>)[name] = branch.handle
    return branch.handle as BranchHandle<Raw>
  }

  get status(): TransactionStatus {
    return this.#status
  }

  /**
   * Set when the transaction can only be rolled back (a savepoint rollback that failed on some
   * branches and not others left their work half undone): why, as the error `commit()` throws.
   */
  get uncommittable(): TransactionStateError | undefined {
    return this.#uncommittable
  }

  /** @internal Throws unless statements may still run in the branches. */
  assertActive(): void {
    if (this.#status !== 'active') {
      throw new TransactionStateError(
        `Transaction ${this.gtrid} is ${this.#status}: its branches take no more statements.`,
      )
    }
  }

  /**
   * Commits on every database or on none. Resolves once every branch is committed (or, after a
   * durable decision, left to recovery: see `pending`); with `acknowledge: 'decision'` (here or
   * the coordinator's), once the decision is durable, the prepared branches being committed in
   * the background (see `completion`).
   *
   * @throws TransactionRolledBackError nothing was committed anywhere; safe to retry.
   * @throws OutcomeUnknownError this process cannot know; recovery finishes it, all one way.
   * @throws BranchTransactionEndedError a branch was ended behind txkit's back: not atomic.
   * @throws TransactionStateError the transaction can only be rolled back ({@link uncommittable}),
   *   or is not active; nothing was done, and `rollback()` still works in the first case.
   * @example
   * ```ts
   * await using tx = await coordinator.begin({ orders, ledger })
   * await tx.branches.orders.query('insert into orders (id) values ($1)', [id])
   * await tx.branches.ledger.query('insert into entries (order_id) values (?)', [id])
   * const { pending } = await tx.commit()
   * ```
   */
  async commit(options?: CommitOptions): Promise<CommitResult> {
    if (this.#status !== 'active') {
      throw new TransactionStateError(
        `Cannot commit transaction ${this.gtrid}: it is already ${this.#status}.`,
      )
    }
    if (this.#uncommittable !== undefined) throw this.#uncommittable
    let acknowledge = this.#acknowledge
    if (options !== undefined) {
      checkOptionNames(options, COMMIT_OPTIONS, 'commit()')
      if (options.acknowledge !== undefined) {
        acknowledge = checkAcknowledge(options.acknowledge, this.protocol)
      }
    }
    if (this.outbox.size > 0) await this.outbox.place(this.#protocol.oneStepBranch?.())
    this.#status = 'committing'
    let result: CommitResult | undefined
    try {
      result = await this.#protocol.commit(acknowledge)
      this.#status = 'committed'
      this.#endSpan(undefined, result.pending.length)
      return result
    } catch (error) {
      this.#status = isTransactionRolledBackError(error)
        ? 'rolled-back'
        : isBranchTransactionEndedError(error)
          ? 'not-atomic'
          : 'outcome-unknown'
      this.#endSpan(error)
      throw error
    } finally {
      // Branches committed in the background keep their sessions until then: a prepared XA
      // branch may be finished only on its own session while that session lives.
      if (result?.completion === undefined) this.#release()
      else void result.completion.then(() => this.#release())
    }
  }

  /**
   * Rolls back every branch. A no-op once rolled back; refused once a commit has begun, since
   * rolling back a prepared branch after an unknown outcome could split the transaction.
   *
   * @throws BranchTransactionEndedError when a branch was found outside its transaction (ended by
   *   a COMMIT or ROLLBACK txkit did not send): its work may be committed.
   * @example
   * ```ts
   * const tx = await coordinator.begin({ orders, ledger })
   * if (!valid) await tx.rollback()
   * ```
   */
  rollback(): Promise<void> {
    return this.rollbackAfter(new Error('rollback() was called'))
  }

  /** @internal Rolls back because of `cause` (the callback's error), which errors carry. */
  async rollbackAfter(cause: unknown): Promise<void> {
    if (this.#status === 'rolled-back') return
    if (this.#status !== 'active') {
      throw new TransactionStateError(
        `Cannot roll back transaction ${this.gtrid}: it is ${this.#status}.${this.#status === 'outcome-unknown' ? ' Recovery decides its outcome.' : ''}`,
      )
    }
    this.#status = 'rolling-back'
    try {
      await rollBackEverything(this.#run, 'parallel')
    } finally {
      this.#release()
    }
    const ended = rolledBack(this.#run, 'the transaction was rolled back', cause)
    if (isBranchTransactionEndedError(ended)) {
      this.#status = 'not-atomic'
      this.#endSpan(ended)
      throw ended
    }
    this.#status = 'rolled-back'
    this.#endSpan(undefined)
  }

  #endSpan(error: unknown, pending?: number): void {
    endTransactionSpan(this.#run, this.#status, error, pending)
  }

  /**
   * Sets a savepoint on every branch. `rollback()` undoes what every branch did since (a branch
   * that joined later is rolled back to where it joined), and leaves the savepoint in place;
   * `release()` forgets it. A statement that failed inside a PostgreSQL branch is undone too.
   *
   * @example
   * ```ts
   * const savepoint = await tx.savepoint()
   * try {
   *   await tx.branches.orders.query('insert into orders (id) values ($1)', [id])
   * } catch {
   *   await savepoint.rollback() // the transaction goes on without that insert
   * }
   * ```
   */
  async savepoint(): Promise<TransactionSavepoint> {
    this.assertActive()
    const name = `txkit_sp_${++this.#savepointCount}`
    await Promise.all(
      this.#run.branches.map((branch) =>
        branch.dialect.savepoint(branch.connection, name, 'create'),
      ),
    )
    this.#savepoints.push(name)
    this.#outboxMarks.set(name, this.outbox.mark())
    return {
      name,
      rollback: () => this.#toSavepoint(name, 'rollback'),
      release: () => this.#toSavepoint(name, 'release'),
    }
  }

  async #toSavepoint(name: string, action: 'rollback' | 'release'): Promise<void> {
    this.assertActive()
    const position = this.#savepoints.indexOf(name)
    if (position === -1) {
      throw new TransactionStateError(
        `Savepoint ${name} no longer exists: it was released, or an earlier savepoint was rolled back or released.`,
      )
    }
    const results = await Promise.allSettled(
      this.#run.branches.map((branch) => branch.dialect.savepoint(branch.connection, name, action)),
    )
    const failed = this.#run.branches.filter((_, index) => results[index]?.status === 'rejected')
    if (failed.length > 0) {
      const first = results.find((result) => result.status === 'rejected') as PromiseRejectedResult
      const names = failed.map((branch) => `"${branch.names[0]}"`).join(', ')
      if (action === 'rollback') {
        // Some branches went back to the savepoint and others did not: committing would keep a
        // state nobody wrote. As in Zope, only a rollback of the whole transaction remains.
        this.#uncommittable ??= new TransactionStateError(
          `Transaction ${this.gtrid} can only be rolled back: rolling back to savepoint ${name} failed on branch(es) ${names} ` +
            `(${errorMessage(first.reason)}) while the others were rolled back to it, so its work is half undone.`,
          { cause: first.reason },
        )
        throw this.#uncommittable
      }
      throw first.reason
    }
    // Later savepoints are gone either way; a released one is gone itself.
    this.#savepoints.length = action === 'rollback' ? position + 1 : position
    if (action === 'rollback') this.outbox.rollbackTo(this.#outboxMarks.get(name) ?? 0)
  }

  /** @internal The session a branch handle of this transaction runs on (transaction locks use it). */
  sessionOf(handle: BranchHandle): DriverConnection {
    const branch = (this.#run.branches as readonly Branch[]).find(
      (candidate) => candidate.handle === handle,
    )
    if (branch === undefined) {
      throw new TransactionStateError(`That branch is not part of transaction ${this.gtrid}.`)
    }
    return branch.connection
  }

  /** Rolls back if neither committed nor rolled back; otherwise does nothing. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === 'active') await this.rollback()
  }

  #release(): void {
    for (const branch of this.#run.branches as readonly Branch[]) branch.release()
    this.#protocol.release()
  }
}
