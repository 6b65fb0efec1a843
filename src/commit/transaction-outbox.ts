import type { Database } from '../database/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { OutboxMessage, SendOptions } from '../message/outbox-message.js'
import { prepareMessage } from '../message/prepare-message.js'
import type { Branch } from '../protocol/branch.js'
import type { TransactionRun } from '../protocol/transaction-run.js'

/** What the outbox needs of its transaction. */
interface OutboxHost {
  readonly run: TransactionRun
  /** Whether databases may still join (an open transaction). */
  readonly open: boolean
  /** Throws unless the transaction takes statements. */
  assertActive(): void
  /** Joins `database` (open transactions). */
  join(database: Database): Promise<void>
  /** Where messages go when no database of the transaction can hold them (the decision log's). */
  readonly fallback: Database | undefined
}

/**
 * A transaction's outbox: `tx.outbox.send(…)` queues a message that goes out if and only if the
 * transaction commits (docs/outbox.md).
 */
export class TransactionOutbox {
  readonly #host: OutboxHost
  readonly #ids = new Set<string>()

  /** @internal Made with its transaction. */
  constructor(host: OutboxHost) {
    this.#host = host
  }

  /**
   * Sends `payload` to `destination` once the transaction commits, and never if it does not: the
   * message is written into the outbox in the same atomic commit, and a relay publishes it. A value
   * travels as JSON, a `Uint8Array` as bytes. Returns the message's id.
   *
   * @throws MessageRefusedError for a payload JSON cannot carry, an unknown destination, a message
   *   over its broker's limit, or an id taken in this transaction; the transaction goes on (roll it
   *   back or leave it to your error handling).
   * @throws ConfigurationError when the coordinator has no outbox, or none of the transaction's
   *   databases can hold it.
   * @example
   * ```ts
   * await coordinator.transaction({ orders, ledger }, async ({ orders }, tx) => {
   *   await orders.query('insert into orders (id, total) values ($1, $2)', [id, 30])
   *   tx.outbox.send('order-events', { type: 'order-placed', id }, { key: id })
   * })
   * ```
   */
  send(destination: string, payload: unknown, options: SendOptions = {}): string {
    const { run } = this.#host
    this.#host.assertActive()
    const message = prepareMessage(run.outbox?.definition, destination, payload, options, this.#ids)
    this.#checkPlace()
    this.#ids.add(message.id)
    run.outbox?.messages.push(message)
    return message.id
  }

  /**
   * @internal The messages a managed transaction queued, checked when sent: they join this
   * transaction's as it commits.
   */
  adopt(messages: readonly OutboxMessage[]): void {
    const outbox = this.#host.run.outbox
    if (outbox === undefined) throw new TypeError('adopting messages without an outbox')
    for (const message of messages) {
      this.#ids.add(message.id)
      outbox.messages.push(message)
    }
  }

  /** How many messages are queued. */
  get size(): number {
    return this.#host.run.outbox?.messages.length ?? 0
  }

  /** @internal A savepoint's mark: the messages queued so far. */
  mark(): number {
    return this.size
  }

  /** @internal Forgets the messages queued since `mark` (their savepoint was rolled back). */
  rollbackTo(mark: number): void {
    const messages = this.#host.run.outbox?.messages
    if (messages === undefined) return
    for (const message of messages.splice(mark)) this.#ids.delete(message.id)
  }

  /**
   * @internal As the commit begins: chooses the branch the messages are written in (joining the
   * database they need, in an open transaction). `oneStep`: the branch that commits in one phase.
   */
  async place(oneStep: Branch | undefined): Promise<void> {
    const outbox = this.#host.run.outbox
    if (outbox === undefined || outbox.messages.length === 0) return
    let branch = this.#choose(oneStep)
    if (branch === undefined) {
      const needed = outbox.definition.database ?? this.#host.fallback
      if (needed === undefined || !this.#host.open) this.#checkPlace()
      else await this.#host.join(needed as Database)
      branch = this.#choose(oneStep)
    }
    if (branch === undefined) throw new TypeError('no branch can hold the outbox')
    outbox.place(branch, branch === oneStep)
  }

  #choose(oneStep: Branch | undefined): Branch | undefined {
    const { run } = this.#host
    const wanted = run.outbox?.definition.database
    const branches = run.branches as readonly Branch[]
    if (wanted !== undefined) {
      return branches.find((branch) => branch.database.identity === wanted.identity)
    }
    if (oneStep?.dialect.outbox !== undefined) return oneStep
    return branches.find((branch) => branch.dialect.outbox !== undefined)
  }

  /** Refuses, at the send, a message no database of a closed transaction can hold. */
  #checkPlace(): void {
    const { run, open } = this.#host
    if (open) return
    const wanted = run.outbox?.definition.database
    const branches = run.branches as readonly Branch[]
    if (wanted !== undefined) {
      if (branches.some((branch) => branch.database.identity === wanted.identity)) return
      throw new ConfigurationError(
        `The outbox is in database "${wanted.name}", which this transaction does not write to: begin it with that database too.`,
      )
    }
    if (branches.some((branch) => branch.dialect.outbox !== undefined)) return
    throw new ConfigurationError(
      'None of this transaction’s databases can hold an outbox: add one whose dialect has an outbox to the transaction.',
    )
  }
}
