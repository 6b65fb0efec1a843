import type { DistributedTransaction } from '../commit/distributed-transaction.js'
import { ConcurrentSavepointError } from '../errors/concurrent-savepoint-error.js'
import type { OutboxMessage, SendOptions } from '../message/outbox-message.js'
import type { OutboxDefinition } from '../message/outbox-options.js'
import { prepareMessage } from '../message/prepare-message.js'

/**
 * A managed transaction's outbox: `tx.outbox.send(…)` (or `manager.outbox.send(…)` anywhere inside
 * `manager.run`) queues a message that goes out if and only if the transaction commits. Rolling
 * back to a savepoint forgets the messages sent since.
 */
export class ManagedOutbox {
  readonly #definition: OutboxDefinition | undefined
  readonly #assertOpen: () => void
  readonly #messages: OutboxMessage[] = []
  readonly #ids = new Set<string>()

  readonly #besideSibling: () => boolean

  /** @internal Made with its transaction. */
  constructor(
    definition: OutboxDefinition | undefined,
    assertOpen: () => void,
    besideSibling: () => boolean,
  ) {
    this.#definition = definition
    this.#assertOpen = assertOpen
    this.#besideSibling = besideSibling
  }

  /**
   * Sends `payload` to `destination` once the transaction commits, and never if it does not (see
   * `DistributedTransaction.outbox.send`). Returns the message's id.
   *
   * @throws MessageRefusedError for a payload JSON cannot carry, an unknown destination, a message
   *   over its broker's limit, or an id taken in this transaction.
   * @throws ConfigurationError when the manager has no outbox.
   * @throws ConcurrentSavepointError sent beside another async flow's open savepoint.
   * @example
   * ```ts
   * await manager.run(async (tx) => {
   *   const orders = await tx.join('orders', ordersDb)
   *   await orders.query('insert into orders (id) values ($1)', [id])
   *   tx.outbox.send('order-events', { type: 'order-placed', id }, { key: id })
   * })
   * ```
   */
  send(destination: string, payload: unknown, options: SendOptions = {}): string {
    this.#assertOpen()
    if (this.#besideSibling()) {
      // A statement would wait for its turn; a send cannot wait, and the sibling's rollback
      // would forget it after the caller was told it was queued.
      throw new ConcurrentSavepointError(
        'refused',
        'Cannot send a message while a savepoint of another async flow of this transaction is open: its rollback would forget this message. Send it from inside that savepoint, or once it has ended (or await tx.savepoint(async () => …) around the sending flow).',
      )
    }
    const message = prepareMessage(this.#definition, destination, payload, options, this.#ids)
    this.#ids.add(message.id)
    this.#messages.push(message)
    return message.id
  }

  /** How many messages are queued. */
  get size(): number {
    return this.#messages.length
  }

  /** @internal A savepoint's mark. */
  mark(): number {
    return this.#messages.length
  }

  /** @internal Forgets the messages sent since `mark` (their savepoint was rolled back). */
  forgetSince(mark: number): void {
    for (const message of this.#messages.splice(mark)) this.#ids.delete(message.id)
  }

  /** @internal As the commit begins: the messages join the engine's (begun if need be). */
  async handOver(engine: () => Promise<DistributedTransaction>): Promise<void> {
    if (this.#messages.length === 0) return
    ;(await engine()).outbox.adopt(this.#messages)
  }
}
