import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { InboxDialect, InboxStatements } from '../dialect/inbox-dialect.js'
import type { TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import type { ManagedTransaction } from '../manager/managed-transaction.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import { checkMessageId } from '../message/outbox-message.js'
import type { ReceivedMessage } from '../message/received-message.js'
import { startLinkedSpan } from '../tracing/span.js'
import {
  collectInboxGarbage,
  type InboxGarbageCollection,
  type InboxGarbageOptions,
} from './inbox-garbage.js'
import { checkInboxOptions, DEFAULT_INBOX_TABLE, type InboxOptions } from './inbox-options.js'
import { checkReceivedMessage } from './received-payload.js'

/**
 * How a message was handled: `applied` (its handler ran and committed with the message's id) or
 * `duplicate` (this consumer had already applied it; the handler did not run). Either way the
 * message may now be acknowledged.
 */
export type InboxOutcome = 'applied' | 'duplicate'

/**
 * A message's handler: its writes go through `tx` (`tx.join(name, database)`), the transaction
 * the message's id is recorded in. It must not acknowledge the message itself, nor have effects
 * outside the transaction's databases (those would be repeated on a redelivery).
 */
export type InboxWork<Payload = unknown> = (
  payload: Payload,
  tx: ManagedTransaction,
  message: ReceivedMessage,
) => Promise<void>

/**
 * A consumer's inbox: applies each received message's effects exactly once across the databases
 * its handler writes to, by recording the message's id in the same atomic commit as the handler's
 * writes. Make one with {@link createInbox}.
 */
export class Inbox {
  readonly consumer: string
  readonly database: Database
  readonly #manager: TransactionManager
  readonly #dialect: InboxDialect
  readonly #table: TableName

  /** @internal Use {@link createInbox}. */
  constructor(options: InboxOptions) {
    const settings = checkInboxOptions(options)
    this.consumer = settings.consumer
    this.database = settings.database
    this.#manager = settings.manager
    this.#dialect = settings.dialect
    this.#table = settings.table
  }

  /**
   * Applies `message` once: when this consumer has not yet applied it, runs `work` in a
   * transaction of the manager that first records the message's id in the inbox table, and
   * commits both together. Resolves once the commit is durable: only then acknowledge the message.
   * Rejects (leave the message unacknowledged, to be redelivered) when `work` throws (nothing is
   * recorded), when the commit fails, or when its outcome is unknown (recovery finishes the
   * transaction; the redelivery then finds the id recorded, or applies the message).
   *
   * Two deliveries of one message at once take turns: the second's insert waits for the first's
   * uncommitted row, then answers `duplicate` (it committed) or applies the message (it rolled
   * back). The handler's transaction writes to the inbox database first, so a handler cannot set
   * that branch's isolation level.
   *
   * @throws MessageRefusedError (`id`, `payload`) for a message that can never be applied: an id
   * the outbox could not have given, a body that does not decode. Dead-letter it.
   * @throws ConfigurationError when the inbox table is missing.
   * @example
   * ```ts
   * const outcome = await inbox.handle(message, async (order: { id: string; total: number }, tx) => {
   *   const ledger = await tx.join('ledger', ledgerDb)
   *   await ledger.query('insert into entries (order_id, amount) values ($1, $2)', [order.id, order.total])
   * })
   * // 'applied' or 'duplicate': acknowledge the message now
   * ```
   */
  async handle<Payload = unknown>(
    message: ReceivedMessage,
    work: InboxWork<Payload>,
  ): Promise<InboxOutcome> {
    const { id, payload } = checkReceivedMessage(message)
    if (typeof work !== 'function') {
      throw new TypeError(`inbox.handle() takes the handler as a function, not ${typeof work}.`)
    }
    const span = startLinkedSpan(
      'txkit.inbox.handle',
      {
        'txkit.message.id': id,
        'txkit.inbox.consumer': this.consumer,
        'txkit.database': this.database.name,
        ...(typeof message.destination === 'string' && {
          'txkit.message.destination': message.destination,
        }),
      },
      typeof message.headers?.traceparent === 'string' ? message.headers.traceparent : undefined,
    )
    try {
      const outcome = await this.#apply(id, payload as Payload, message, work)
      span?.set({ 'txkit.inbox.outcome': outcome })
      span?.end()
      return outcome
    } catch (error) {
      span?.end(error)
      throw error
    }
  }

  /**
   * The function a broker consumer calls for each delivery (`txkit/amqplib`, `txkit/nats`,
   * `txkit/redis`, `txkit/bullmq`): {@link handle} with `work`. Resolving means "acknowledge";
   * rejecting means "do not": the message comes again.
   *
   * @example
   * ```ts
   * const onMessage = inbox.handler(async (order: { id: string }, tx) => {
   *   const ledger = await tx.join('ledger', ledgerDb)
   *   await ledger.query('insert into shipped (order_id) values ($1)', [order.id])
   * })
   * await onMessage(message) // 'applied'
   * ```
   */
  handler<Payload = unknown>(
    work: InboxWork<Payload>,
  ): (message: ReceivedMessage) => Promise<InboxOutcome> {
    if (typeof work !== 'function') {
      throw new TypeError(`inbox.handler() takes the handler as a function, not ${typeof work}.`)
    }
    return (message) => this.handle(message, work)
  }

  /**
   * Whether this consumer has applied the message `id` (a committed record; an in-flight one is
   * not seen).
   *
   * @throws MessageRefusedError (`id`) for an id the outbox could not have given.
   * @example
   * ```ts
   * if (await inbox.applied(message.id)) console.log('already applied')
   * ```
   */
  async applied(id: string): Promise<boolean> {
    const checked = checkMessageId(id)
    return withConnection(this.database, (connection) =>
      this.#dialect.recorded(connection, this.#table, this.consumer, checked),
    )
  }

  /**
   * Deletes this consumer's records of messages received longer ago than `olderThan` (ms, by the
   * inbox database's clock; default 7 days), in batches of `batchSize` rows (default 1000), each
   * its own statement. A message redelivered after its record is gone is applied again, so the
   * retention must exceed the broker's redelivery window and the sender's outbox relay's retry span
   * (the longest a message can take to arrive again), with a margin.
   *
   * @example
   * ```ts
   * const { deleted } = await inbox.collectGarbage({ olderThan: 14 * 24 * 3600_000 })
   * ```
   */
  collectGarbage(options: InboxGarbageOptions = {}): Promise<InboxGarbageCollection> {
    return collectInboxGarbage(this.database, this.#dialect, this.#table, this.consumer, options)
  }

  #tableText(): string {
    const { schema, name } = this.#table
    return schema === undefined ? name : `${schema}.${name}`
  }

  async #apply<Payload>(
    id: string,
    payload: Payload,
    message: ReceivedMessage,
    work: InboxWork<Payload>,
  ): Promise<InboxOutcome> {
    // A redelivery of an applied message (the usual duplicate) costs one read, no transaction.
    const recorded = await withConnection(this.database, (connection) =>
      this.#dialect.recorded(connection, this.#table, this.consumer, id),
    ).catch((error: unknown) => {
      if (!this.database.dialect.isUndefinedTable(error)) throw error
      throw new ConfigurationError(
        `The inbox table ${this.#tableText()} is missing in database "${this.database.name}": create it with createInboxTable(database${this.#tableText() === DEFAULT_INBOX_TABLE ? '' : `, { table: '${this.#tableText()}' }`}) or your migrations (inboxTableSql).`,
        { cause: error },
      )
    })
    if (recorded) return 'duplicate'
    return this.#manager.run(async (tx) => {
      const branch = await tx.join(this.database.name, this.database)
      const statements: InboxStatements = {
        query: (sql, params) => branch.execute(sql, params),
      }
      if (!(await this.#dialect.record(statements, this.#table, this.consumer, id))) {
        // Another delivery committed it while this one waited: roll back, nothing ran.
        tx.doom()
        return 'duplicate'
      }
      await work(payload, tx, message)
      if (tx.status === 'aborted' || tx.isDoomed) {
        // Resolving would acknowledge a message whose effects were rolled back.
        throw new TransactionStateError(
          `The handler of message ${id} rolled back or doomed its transaction: the message is not applied, so it is not acknowledged. Throw from the handler to refuse a message.`,
        )
      }
      return 'applied'
    })
  }
}

/**
 * An inbox for `consumer`, keeping its records in `database`'s table `table` (default
 * `txkit_inbox`, made by {@link createInboxTable}) and running each message's handler in a
 * transaction of `manager`.
 *
 * @throws ConfigurationError for an unknown option name, a missing manager or consumer, or a
 * database that cannot hold an inbox.
 * @example
 * ```ts
 * import { createInbox, createInboxTable, createTransactionManager } from 'txkit'
 *
 * const manager = createTransactionManager({ decisionLog: ordersDb })
 * await createInboxTable(ordersDb)
 * const inbox = createInbox({ manager, database: ordersDb, consumer: 'shipping' })
 * ```
 */
export function createInbox(options: InboxOptions): Inbox {
  return new Inbox(options)
}
