import type { TransactionSavepoint } from '../commit/distributed-transaction.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import { controlOf } from '../util/transaction-statements.js'
import type { ManagedTransaction } from './managed-transaction.js'
import type { SavepointScope } from './savepoint-scopes.js'

/**
 * One session of an ORM inside a managed transaction (what the ORM took for a connection of its
 * own): its transactions (BEGIN / START TRANSACTION … COMMIT or ROLLBACK, or, as Knex sends them
 * inside a transaction, SAVEPOINT … RELEASE or ROLLBACK TO) are carried out as savepoints of the
 * managed transaction instead: an inner rollback undoes the inner work on every joined database and
 * drops the writes it recorded.
 *
 * Sessions are siblings: two async flows each with an ORM transaction open would nest one in the
 * other's savepoint, so that the first one's rollback undid the second's reported commit. The
 * outermost transaction of a session therefore takes the transaction's turn (see
 * `SavepointScopes`): a sibling's waits until it has ended, as it would wait for one connection.
 */
export class SavepointStatements {
  readonly #transaction: ManagedTransaction
  readonly #tool: string
  /** The turn this session holds while its outermost transaction is open. */
  #scope: SavepointScope | undefined
  /** The name of the SAVEPOINT that opened the turn (Knex's transactions inside a transaction). */
  #scopeName: string | undefined
  /** The ORM's open transactions, innermost last; the first is the turn's own savepoint. */
  #open: TransactionSavepoint[] = []
  readonly #named = new Map<string, TransactionSavepoint>()

  /** `tool` names the ORM in messages (`Drizzle`, `TypeORM` …). */
  constructor(transaction: ManagedTransaction, tool: string) {
    this.#transaction = transaction
    this.#tool = tool
  }

  get #holding(): boolean {
    return this.#scope !== undefined && !this.#scope.ended
  }

  /** The ORM begins a transaction: the session's first takes its turn, later ones nest. */
  async begin(): Promise<void> {
    if (this.#holding) {
      this.#open.push(await this.#transaction.scopes.marked(`a ${this.#tool} transaction`))
      return
    }
    await this.#takeTurn()
    this.#open.push(this.#scope?.savepoint as TransactionSavepoint)
  }

  /** The ORM commits (`commit`) or rolls back its innermost transaction; false if none is open. */
  async end(action: 'commit' | 'rollback'): Promise<boolean> {
    if (!this.#holding) this.#open = []
    const savepoint = this.#open.pop()
    if (savepoint === undefined) return false
    try {
      await (action === 'commit' ? savepoint.release() : savepoint.rollback())
    } finally {
      if (this.#open.length === 0 && this.#scopeName === undefined) this.#endTurn()
    }
    return true
  }

  /** SAVEPOINT `name`: inside the session's transaction, or, outside one, a transaction itself. */
  async savepoint(name: string): Promise<void> {
    if (this.#holding) {
      this.#named.set(
        name,
        await this.#transaction.scopes.marked(`${this.#tool}'s savepoint "${name}"`),
      )
      return
    }
    await this.#takeTurn()
    this.#scopeName = name
    this.#named.set(name, this.#scope?.savepoint as TransactionSavepoint)
  }

  /** RELEASE SAVEPOINT `name` (the work stays) or ROLLBACK TO SAVEPOINT `name`. */
  async toSavepoint(name: string, action: 'release' | 'rollback'): Promise<void> {
    const savepoint = this.#named.get(name)
    if (savepoint === undefined || !this.#holding) {
      throw new TransactionStateError(`${this.#tool} named a savepoint it had not set: "${name}".`)
    }
    try {
      await (action === 'release' ? savepoint.release() : savepoint.rollback())
    } finally {
      if (action === 'release') this.#named.delete(name)
      // A transaction begun as a SAVEPOINT ends with its RELEASE or its ROLLBACK TO (Knex).
      if (name === this.#scopeName) this.#endTurn()
    }
  }

  /**
   * Called right before the session sends any other statement: waits while a sibling's
   * callback-form savepoint is open; counts a write into a sibling ORM transaction (see
   * `SavepointScopes.beforeStatement`).
   */
  beforeStatement(text: string | undefined): Promise<() => void> | undefined {
    return this.#transaction.scopes.beforeStatement(this, text)
  }

  /**
   * Carries out `text` when it is one of those statements and answers true; false for any other
   * statement (the caller sends it). `plainBegin: false` leaves BEGIN, COMMIT and ROLLBACK to the
   * caller (they then reach the branch's guard, which refuses them).
   *
   * @throws ConfigurationError for a transaction with an isolation level or access mode.
   * @throws ConcurrentSavepointError a sibling's transaction did not end in time.
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
        await this.begin()
        return true
      case 'commit':
      case 'rollback':
        // With no transaction of the ORM's open, the statement is the user's own: the branch's
        // guard refuses it.
        return plainBegin ? this.end(control.kind) : false
      case 'savepoint':
        await this.savepoint(control.name)
        return true
      case 'release':
        await this.toSavepoint(control.name, 'release')
        return true
      case 'rollback-to':
        await this.toSavepoint(control.name, 'rollback')
        return true
    }
  }

  async #takeTurn(): Promise<void> {
    this.#scope = await this.#transaction.scopes.open(this, `a ${this.#tool} transaction`)
    this.#open = []
    this.#named.clear()
    this.#scopeName = undefined
  }

  #endTurn(): void {
    if (this.#scope !== undefined) this.#transaction.scopes.end(this.#scope)
    this.#scope = undefined
    this.#scopeName = undefined
    this.#open = []
    this.#named.clear()
  }
}
