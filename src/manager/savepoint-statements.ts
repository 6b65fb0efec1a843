import type { TransactionSavepoint } from '../commit/distributed-transaction.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import { controlOf } from '../util/transaction-statements.js'
import type { ManagedTransaction } from './managed-transaction.js'

/**
 * The transaction statements an ORM sends for its own transactions (BEGIN / START TRANSACTION,
 * COMMIT, ROLLBACK, SAVEPOINT, RELEASE SAVEPOINT, ROLLBACK TO SAVEPOINT), carried out as savepoints
 * of a managed transaction instead: an inner rollback undoes the inner work on every joined
 * database and drops the writes it recorded. One per ORM session.
 */
export class SavepointStatements {
  readonly #transaction: ManagedTransaction
  readonly #tool: string
  readonly #open: TransactionSavepoint[] = []
  readonly #named = new Map<string, TransactionSavepoint>()

  /** `tool` names the ORM in messages (`Drizzle`, `TypeORM` …). */
  constructor(transaction: ManagedTransaction, tool: string) {
    this.#transaction = transaction
    this.#tool = tool
  }

  /**
   * Carries out `text` when it is one of those statements and answers true; false for any other
   * statement (the caller sends it). `plainBegin: false` leaves BEGIN, COMMIT and ROLLBACK to the
   * caller (they then reach the branch's guard, which refuses them).
   *
   * @throws ConfigurationError for a transaction with an isolation level or access mode.
   */
  async handle(text: string, plainBegin = true): Promise<boolean> {
    const control = controlOf(text)
    if (control === undefined) return false
    switch (control.kind) {
      case 'configured':
        throw new ConfigurationError(
          `A ${this.#tool} transaction inside a txkit transaction is a savepoint of it: its isolation level and access mode are the txkit transaction's, so "${control.statement}" cannot apply. Drop it, or run that transaction outside the txkit transaction.`,
        )
      case 'begin':
        if (!plainBegin) return false
        this.#open.push(await this.#transaction.savepoint())
        return true
      case 'commit':
      case 'rollback': {
        // With no transaction of the ORM's open, the statement is the user's own: the branch's
        // guard refuses it.
        const savepoint = plainBegin ? this.#open.pop() : undefined
        if (savepoint === undefined) return false
        await (control.kind === 'commit' ? savepoint.release() : savepoint.rollback())
        return true
      }
      case 'savepoint':
        this.#named.set(control.name, await this.#transaction.savepoint())
        return true
      case 'release':
        await this.#savepoint(control.name).release()
        this.#named.delete(control.name)
        return true
      case 'rollback-to':
        await this.#savepoint(control.name).rollback()
        return true
    }
  }

  #savepoint(name: string): TransactionSavepoint {
    const savepoint = this.#named.get(name)
    if (savepoint === undefined) {
      throw new TransactionStateError(`${this.#tool} named a savepoint it had not set: "${name}".`)
    }
    return savepoint
  }
}
