import { isBranchTransactionEndedError } from '../errors/branch-transaction-ended-error.js'
import { isOutcomeUnknownError } from '../errors/outcome-unknown-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import type { CommitResult } from '../protocol/commit-result.js'
import type { Logger } from '../util/logger.js'
import type { ManagedOutbox } from './managed-outbox.js'
import type { RecordedWrites } from './recorded-writes.js'
import type { SavepointScopes } from './savepoint-scopes.js'
import type { CommitOutcome, TransactionHooks } from './transaction-hooks.js'
import type { TransactionLocks } from './transaction-locks.js'
import type { TransactionNotifications } from './transaction-notifications.js'
import type { TransactionParticipants } from './transaction-participants.js'

/** Where a managed transaction stands. */
export type ManagedStatus = 'active' | 'committing' | 'committed' | 'aborted' | 'unknown'

/** The parts of one managed transaction that its end works through. */
export interface TransactionParts<Transaction> {
  /** What the hooks are handed. */
  readonly transaction: Transaction
  readonly participants: TransactionParticipants
  readonly hooks: TransactionHooks<Transaction>
  readonly records: RecordedWrites
  readonly notifications: TransactionNotifications
  readonly locks: TransactionLocks
  readonly scopes: SavepointScopes
  readonly outbox: ManagedOutbox
  readonly logger: Logger
}

/**
 * Where a managed transaction stands, and how it ends. A commit runs the before-commit and
 * before-record hooks, commits the engine, then (committed) sends the notifications and runs the
 * after-record and after-commit hooks; a failure anywhere becomes the outcome the hooks are told:
 * `aborted`, or `unknown` when the engine could not learn it or a branch ended behind txkit's back.
 * Locks end before any after-hook runs.
 *
 * @example
 * ```ts
 * const lifecycle = new TransactionLifecycle(parts)
 * lifecycle.assertActive('commit')
 * await lifecycle.commit()
 * ```
 */
export class TransactionLifecycle<Transaction> {
  readonly #parts: TransactionParts<Transaction>
  #status: ManagedStatus = 'active'
  #doomed = false
  /** The commit proper has begun: before-commit hooks can no longer add hooks or notifications. */
  #sealed = false
  /** Why only an abort remains: a rollback undid writes that reached it from outside. */
  #uncommittable: TransactionStateError | undefined

  constructor(parts: TransactionParts<Transaction>) {
    this.#parts = parts
  }

  get status(): ManagedStatus {
    return this.#status
  }

  get isDoomed(): boolean {
    return this.#doomed
  }

  assertActive(action: string): void {
    if (this.#status !== 'active') {
      throw new TransactionStateError(`Cannot ${action}: the transaction is ${this.#status}.`)
    }
  }

  /** Hooks and notifications may still be added by before-commit hooks, until the commit proper. */
  assertOpen(action: string): void {
    if (this.#status !== 'active' && !(this.#status === 'committing' && !this.#sealed)) {
      throw new TransactionStateError(`Cannot ${action}: the transaction is ${this.#status}.`)
    }
  }

  /** From now on the transaction can only abort. */
  doom(): void {
    this.assertActive('doom the transaction')
    this.#doomed = true
  }

  /** Only an abort remains, for the first reason given. */
  markUncommittable(error: TransactionStateError): void {
    this.#uncommittable ??= error
  }

  /** @throws as `ManagedTransaction.commit`. */
  async commit(): Promise<CommitResult | undefined> {
    this.assertActive('commit')
    if (this.#doomed) {
      throw new TransactionStateError('The transaction is doomed: it can only be aborted.')
    }
    // A savepoint rollback that failed part-way: only abort remains (Zope's COMMITFAILED).
    const uncommittable =
      this.#uncommittable ?? (await this.#parts.participants.settled())?.uncommittable
    if (uncommittable !== undefined) throw uncommittable
    this.#status = 'committing'
    try {
      return await this.#commit()
    } finally {
      await this.#parts.participants.closeConnections()
    }
  }

  async #commit(): Promise<CommitResult | undefined> {
    const { hooks, records, participants, scopes, transaction } = this.#parts
    try {
      await hooks.runBeforeCommit(transaction)
      await records.runBefore()
      if (this.#uncommittable !== undefined) throw this.#uncommittable
      if (this.#parts.outbox.size > 0)
        await this.#parts.outbox.handOver(() => participants.engine())
    } catch (error) {
      await this.#rollBack()
      await this.#runRecordHooks('failed', 'aborted')
      await this.#runAfterCommit('aborted')
      await this.#runAfterAbort()
      throw error
    }
    this.#sealed = true
    scopes.close('the transaction is committing')
    let result: CommitResult | undefined
    try {
      const engine = participants.begun
      result = engine === undefined ? undefined : await (await engine).commit()
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
    await this.#parts.notifications.send(this.#parts.logger, participants.gtrid)
    await this.#runRecordHooks('after')
    await this.#runAfterCommit('committed')
    return result
  }

  /** Rolls back and runs the after-abort hooks; a no-op once aborted. */
  async abort(): Promise<void> {
    if (this.#status === 'aborted') return
    this.assertActive('abort')
    let ended: unknown
    try {
      await this.#rollBack()
    } catch (error) {
      if (!isBranchTransactionEndedError(error)) throw error
      // A branch's work may be committed: its records' outcome is unknown, not aborted.
      ended = error
      this.#status = 'unknown'
    }
    await this.#parts.participants.closeConnections()
    await this.#runRecordHooks('failed', ended === undefined ? 'aborted' : 'unknown')
    await this.#runAfterAbort()
    if (ended !== undefined) throw ended
  }

  async #rollBack(): Promise<void> {
    this.#status = 'aborted'
    this.#parts.scopes.close('the transaction was rolled back')
    const engine = await this.#parts.participants.settled()
    if (engine?.status === 'active') await engine.rollback()
  }

  async #runRecordHooks(phase: 'after' | 'failed', outcome?: 'aborted' | 'unknown'): Promise<void> {
    const { records, hooks } = this.#parts
    await records.runAfter(phase, outcome, (kind, run) => hooks.safely(kind, run))
  }

  /** Locks end with the transaction: before any after-hook, once the outcome is known. */
  async #endLocks(): Promise<void> {
    const { locks, hooks } = this.#parts
    await locks.endAll((end) => hooks.safely('lock release', end))
  }

  async #runAfterCommit(outcome: CommitOutcome): Promise<void> {
    await this.#endLocks()
    await this.#parts.hooks.runAfterCommit(outcome, this.#parts.transaction)
  }

  async #runAfterAbort(): Promise<void> {
    await this.#endLocks()
    await this.#parts.hooks.runAfterAbort(this.#parts.transaction)
  }
}
