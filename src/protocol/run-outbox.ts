import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { OutboxRow } from '../dialect/outbox-dialect.js'
import type { OutboxMessage } from '../message/outbox-message.js'
import type { OutboxDefinition } from '../message/outbox-options.js'
import type { TraceSpan } from '../tracing/span.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import type { Branch } from './branch.js'

/** What writing and waking read of the transaction. */
interface RunOf {
  readonly gtrid: string
  readonly logger: Logger
  readonly span: TraceSpan | undefined
}

/**
 * The messages a transaction sends (docs/outbox.md). They are written at commit into one branch,
 * the outbox branch, as ordinary rows of it: they commit if and only if that branch does, which
 * every protocol makes "if and only if the transaction does". The branch that commits in one phase
 * (the decision database's, or a transaction's only one) is preferred: its rows commit at the
 * decision itself, written during phase one alongside the others' PREPARE, or (PostgreSQL) in the
 * COMMIT's own message. Elsewhere the rows go in before the branch's PREPARE. Relays are notified
 * once the branch is committed.
 */
export class RunOutbox {
  readonly definition: OutboxDefinition
  readonly messages: OutboxMessage[] = []
  #branch: Branch | undefined
  #inCommit = false
  #written = false

  constructor(definition: OutboxDefinition) {
    this.definition = definition
  }

  /** Where the messages are written; chosen as the commit begins. */
  get branch(): Branch | undefined {
    return this.#branch
  }

  /**
   * `oneStep`: `branch` commits in one step (never prepared). Where its dialect can, the messages
   * then ride in the COMMIT's own message (`commitStatements`) instead of a round trip before it.
   */
  place(branch: Branch, oneStep: boolean): void {
    this.#branch = branch
    this.#inCommit = oneStep && branch.dialect.outbox?.insertStatement !== undefined
  }

  /**
   * Before `branch` commits in one step: writes the messages if it is the outbox branch, unless its
   * COMMIT carries them (`commitStatements`).
   */
  async writeBeforeOneStep(run: RunOf, branch: Branch): Promise<void> {
    if (!this.#inCommit) await this.writeOn(run, branch)
  }

  /**
   * Writes the messages on `branch` if it is the outbox branch (else does nothing), inside its
   * transaction: before its PREPARE, or before a one-step COMMIT that cannot carry them.
   */
  async writeOn(run: RunOf, branch: Branch): Promise<void> {
    if (!this.#wanted(branch)) return
    const dialect = branch.dialect.outbox
    if (dialect === undefined) throw new TypeError('the outbox branch has no outbox dialect')
    try {
      await dialect.insert(branch.connection, this.definition, this.#rows(run), run.gtrid)
    } catch (error) {
      branch.error = error
      throw error
    }
    this.#written = true
  }

  /** The statement that writes the messages, for `branch`'s one-step COMMIT to carry; else undefined. */
  commitStatements(run: RunOf, branch: Branch): string | undefined {
    if (!this.#inCommit || !this.#wanted(branch)) return undefined
    return branch.dialect.outbox?.insertStatement?.(this.definition, this.#rows(run), run.gtrid)
  }

  /** `branch` committed: what its COMMIT carried is written. */
  committed(branch: Branch): void {
    if (this.#inCommit && this.#wanted(branch)) this.#written = true
  }

  /** The sender's error for a failure of what `branch`'s COMMIT carried, if it was theirs. */
  refusal(branch: Branch, error: unknown): Error | undefined {
    if (!this.#inCommit || branch !== this.#branch) return undefined
    return branch.dialect.outbox?.refusal?.(error, this.definition)
  }

  #wanted(branch: Branch): boolean {
    return branch === this.#branch && !this.#written && this.messages.length > 0
  }

  #rows(run: RunOf): OutboxRow[] {
    // The transaction's span goes along, for the publish and the consumer to link to.
    const traceparent = run.span?.traceparent
    return this.messages.map((message) => ({
      id: message.id,
      destination: message.destination,
      key: message.key,
      headers: JSON.stringify(
        traceparent === undefined || message.headers.traceparent !== undefined
          ? message.headers
          : { ...message.headers, traceparent },
      ),
      body: message.body,
      contentType: message.contentType,
    }))
  }

  /**
   * After `branch` committed: wakes the relays listening on its database. Not inside the commit: a
   * PostgreSQL transaction that notifies takes a database-wide lock for its commit, which would
   * make every committing transaction that sends a message wait for the others' (measured: a third
   * of the throughput, docs/benchmarks.md). A lost wake-up delays the messages until a relay's
   * fallback poll, nothing more, so it runs off the commit path, coalesced per database, and only
   * logs a failure.
   */
  wakeAfter(run: RunOf, branch: Branch): void {
    if (branch !== this.#branch || !this.#written) return
    const { database } = branch
    if (database.dialect.notify === undefined || database.dialect.outbox?.wakes !== true) return
    wakerOf(database, this.definition.channel).wake(run)
  }
}

/**
 * How soon after one notification a database's next may go. A notification costs the database
 * about what a small transaction does, and a relay's batch (claim, publish, mark) takes longer
 * than this: commits closer together share the later one, so a busy process notifies a database
 * at most 100 times a second, while a lone commit notifies at once.
 */
const WAKE_GAP_MS = 10

/**
 * One notification in flight per database and channel, and none sooner than `WAKE_GAP_MS` after
 * the last: a commit meanwhile asks for one more after it, however many commits ask.
 */
class Waker {
  readonly #database: Database
  readonly #channel: string
  #inFlight = false
  #sentAt = Number.NEGATIVE_INFINITY
  #again: RunOf | undefined

  constructor(database: Database, channel: string) {
    this.#database = database
    this.#channel = channel
  }

  wake(run: RunOf): void {
    if (this.#inFlight) {
      this.#again = run
      return
    }
    const wait = this.#sentAt + WAKE_GAP_MS - performance.now()
    this.#inFlight = true
    if (wait > 0) {
      setTimeout(() => this.#send(run), wait).unref()
      return
    }
    this.#send(run)
  }

  #send(run: RunOf): void {
    this.#sentAt = performance.now()
    const database = this.#database
    void withConnection(database, (connection) =>
      (database.dialect.notify as NonNullable<typeof database.dialect.notify>)(
        connection,
        this.#channel,
        run.gtrid,
      ),
    )
      .catch((error: unknown) => {
        run.logger.warn(
          { gtrid: run.gtrid, database: database.name, error: errorMessage(error) },
          'txkit: relays could not be woken after a commit; they find the messages at their next poll',
        )
      })
      .finally(() => {
        this.#inFlight = false
        const again = this.#again
        this.#again = undefined
        if (again !== undefined) this.wake(again)
      })
  }
}

const wakers = new WeakMap<Database, Map<string, Waker>>()

function wakerOf(database: Database, channel: string): Waker {
  let byChannel = wakers.get(database)
  if (byChannel === undefined) {
    byChannel = new Map()
    wakers.set(database, byChannel)
  }
  let waker = byChannel.get(channel)
  if (waker === undefined) {
    waker = new Waker(database, channel)
    byChannel.set(channel, waker)
  }
  return waker
}
