import { TransactionStateError } from '../errors/transaction-state-error.js'
import type { CommitProtocolName } from '../xid/xid.js'
import { rollBackEverything } from './abort.js'
import type { Branch, BranchHandle } from './branch.js'
import type { CommitContext } from './commit-context.js'
import type { CommitResult } from './commit-result.js'
import { commitWithDecision } from './decision-protocol.js'
import { commitSequentially } from './sequential-protocol.js'

/**
 * Where a transaction stands. `outcome-unknown` is final for this process: recovery decides.
 */
export type TransactionStatus =
  | 'active'
  | 'committing'
  | 'rolling-back'
  | 'committed'
  | 'rolled-back'
  | 'outcome-unknown'

const PROTOCOLS: Record<CommitProtocolName, (context: CommitContext) => Promise<CommitResult>> = {
  decision: commitWithDecision,
  sequential: commitSequentially,
}

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
  readonly #context: CommitContext

  /** @internal Use `coordinator.begin`. */
  constructor(protocol: CommitProtocolName, context: CommitContext, branches: Branches) {
    this.gtrid = context.gtrid
    this.protocol = protocol
    this.branches = branches
    this.#context = context
  }

  get status(): TransactionStatus {
    return this.#status
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
   * durable decision, left to recovery: see `pending`).
   *
   * @throws TransactionRolledBackError nothing was committed anywhere; safe to retry.
   * @throws OutcomeUnknownError this process cannot know; recovery finishes it, all one way.
   * @example
   * ```ts
   * await using tx = await coordinator.begin({ orders, ledger })
   * await tx.branches.orders.query('insert into orders (id) values ($1)', [id])
   * await tx.branches.ledger.query('insert into entries (order_id) values (?)', [id])
   * const { pending } = await tx.commit()
   * ```
   */
  async commit(): Promise<CommitResult> {
    if (this.#status !== 'active') {
      throw new TransactionStateError(
        `Cannot commit transaction ${this.gtrid}: it is already ${this.#status}.`,
      )
    }
    this.#status = 'committing'
    try {
      const result = await PROTOCOLS[this.protocol](this.#context)
      this.#status = 'committed'
      return result
    } catch (error) {
      const rolledBack = (error as { isTransactionRolledBackError?: boolean })
        .isTransactionRolledBackError
      this.#status = rolledBack === true ? 'rolled-back' : 'outcome-unknown'
      throw error
    } finally {
      this.#release()
    }
  }

  /**
   * Rolls back every branch. A no-op once rolled back; refused once a commit has begun, since
   * rolling back a prepared branch after an unknown outcome could split the transaction.
   *
   * @example
   * ```ts
   * const tx = await coordinator.begin({ orders, ledger })
   * if (!valid) await tx.rollback()
   * ```
   */
  async rollback(): Promise<void> {
    if (this.#status === 'rolled-back') return
    if (this.#status !== 'active') {
      throw new TransactionStateError(
        `Cannot roll back transaction ${this.gtrid}: it is ${this.#status}.${this.#status === 'outcome-unknown' ? ' Recovery decides its outcome.' : ''}`,
      )
    }
    this.#status = 'rolling-back'
    try {
      await rollBackEverything(this.#context, 'parallel')
    } finally {
      this.#status = 'rolled-back'
      this.#release()
    }
  }

  /** Rolls back if neither committed nor rolled back; otherwise does nothing. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === 'active') await this.rollback()
  }

  #release(): void {
    for (const branch of this.#context.branches as readonly Branch[]) branch.release()
  }
}
