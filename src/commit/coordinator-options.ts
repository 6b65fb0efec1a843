import type { Database } from '../database/database.js'
import type { OutboxOptions } from '../message/outbox-options.js'
import type { Acknowledge } from '../protocol/commit-result.js'
import type { ProtocolStepObserver } from '../protocol/protocol-step.js'
import type { DecisionLogOptions } from '../records/decision-log.js'
import type { Logger } from '../util/logger.js'
import type { CommitProtocolName } from '../xid/xid.js'

export interface CoordinatorOptions {
  /**
   * Where commit decisions are recorded: a database (the table defaults to `txkit_decision`) or
   * `{ database, table }`. Required by the `decision` protocol. Writers and recovery workers of one
   * deployment name the same one. It must not lose a committed row on failover.
   */
  readonly decisionLog?: Database | DecisionLogOptions
  /**
   * Databases that keep the decisions of the transactions they take part in (decision protocol):
   * each transaction records its decision in one of its own participants listed here, chosen at
   * random per transaction, in the branch that commits in one phase (no extra round trip). No
   * database then holds every decision. Each needs the decision table
   * ({@link Coordinator.createDecisionLog} creates it in all of them) and must not lose a committed
   * row on failover. `decisionLog`, if given, keeps the decisions of the rest: transactions none of
   * whose databases is listed, and open ones (`begin()` without databases, the manager's), whose
   * participants are not known when their id is made. Recovery is given the same list.
   */
  readonly decisionDatabases?: ReadonlyArray<Database | DecisionLogOptions>
  /** 1 to 8 lowercase letters written into every transaction id; default `txkit`. */
  readonly prefix?: string
  /**
   * `decision` (default), `parallel` (the decision staged in parallel with the PREPAREs: committed
   * after one phase; needs a fence table in every database, see {@link Coordinator.createFenceTable})
   * or `sequential` (sqlalchemy-xa-recovery's order and id format).
   */
  readonly protocol?: CommitProtocolName
  /**
   * The fence table's name (`table` or `schema.table`) in every database of a parallel
   * transaction; default `txkit_fence`. Parallel protocol only.
   */
  readonly fenceTable?: string
  /**
   * Longest time from `begin` to the decision, in ms (default one hour). The decision database
   * refuses to record a commit later than that, by its own clock, so recovery may safely forget
   * abort decisions of older transactions.
   */
  readonly maxTransactionDuration?: number
  readonly logger?: Logger
  /** Observes each protocol step; see {@link ProtocolStepObserver}. */
  readonly onStep?: ProtocolStepObserver
  /**
   * When `commit()` returns: `commit` (default) once every branch is committed; `decision` once
   * the decision is durable, the prepared branches being committed in the background (decision
   * protocol). The transaction is committed either way; until the background commit lands, a
   * plain read on another connection of a database may still see the old rows (a locking read
   * waits for the new ones). Per commit: `tx.commit({ acknowledge })`.
   */
  readonly acknowledge?: Acknowledge
  /**
   * Most commits acknowledged at their decision still being finished in the background (default
   * 256); beyond it a commit is finished before it returns.
   */
  readonly maxBackgroundCommits?: number
  /**
   * A transactional outbox: `tx.outbox.send(destination, payload)` inside a transaction writes the
   * message in the same atomic commit, and a relay publishes it (docs/outbox.md). Decision and
   * parallel protocols.
   */
  readonly outbox?: OutboxOptions
}

export const PROTOCOL_NAMES: readonly CommitProtocolName[] = ['decision', 'parallel', 'sequential']

/** The option names of `createCoordinator()`. */
export const COORDINATOR_OPTIONS: ReadonlySet<string> = new Set([
  'decisionLog',
  'decisionDatabases',
  'prefix',
  'protocol',
  'fenceTable',
  'maxTransactionDuration',
  'logger',
  'onStep',
  'acknowledge',
  'maxBackgroundCommits',
  'outbox',
])
export const DEFAULT_MAX_BACKGROUND_COMMITS = 256
export const ONE_HOUR_MS = 3_600_000
