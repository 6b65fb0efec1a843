import { randomInt } from 'node:crypto'
import { assertDatabase } from '../driver/assert-database.js'
import type { Database } from '../driver/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionRolledBackError } from '../errors/transaction-rolled-back-error.js'
import {
  type CheckDeploymentOptions,
  checkDeployment,
  type DeploymentCheck,
} from '../preflight/check-deployment.js'
import { startSpan } from '../tracing/span.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { errorMessage } from '../util/error-message.js'
import { type Logger, silentLogger } from '../util/logger.js'
import { writerDecisionLogTag } from '../xid/decision-log-tag.js'
import { DEFAULT_PREFIX, validatePrefix } from '../xid/deployment-prefix.js'
import { branchXid, type CommitProtocolName, MAX_BRANCHES, newGtrid } from '../xid/xid.js'
import { COMMIT_OPTIONS, checkAcknowledge } from './acknowledge.js'
import { type BackgroundCommitStats, BackgroundCommits } from './background-commits.js'
import { Branch, type BranchHandle } from './branch.js'
import type { CommitContext } from './commit-context.js'
import type { Acknowledge, CommitOptions } from './commit-result.js'
import { decisionDatabasesOf } from './decision-databases.js'
import { type DecisionLog, type DecisionLogOptions, decisionLogOf } from './decision-log.js'
import { DistributedTransaction } from './distributed-transaction.js'
import { DEFAULT_FENCE_TABLE, FenceTable } from './fence-table.js'
import type { ProtocolStepObserver } from './protocol-step.js'
import { StagingConnection } from './staging-connection.js'

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
}

// biome-ignore lint/suspicious/noExplicitAny: any driver's connection type
type AnyDatabase = Database<any>

const CHECK_OPTIONS: ReadonlySet<string> = new Set(['concurrency', 'maxClockSkew', 'timeout'])

/** Refuses, at compile time, a set of databases with none in it (`{}`). */
export type AtLeastOne<Databases> = keyof Databases extends never
  ? { readonly 'a transaction needs at least one database': never }
  : unknown

/** The branch handles the transaction callback receives, one per name. */
export type BranchesOf<Databases extends Record<string, AnyDatabase>> = {
  readonly [Name in keyof Databases]: Databases[Name] extends Database<infer Raw>
    ? BranchHandle<Raw>
    : never
}

const PROTOCOL_NAMES: readonly CommitProtocolName[] = ['decision', 'parallel', 'sequential']

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
])
const DEFAULT_MAX_BACKGROUND_COMMITS = 256
const ONE_HOUR_MS = 3_600_000

/**
 * Runs transactions over several databases that commit everywhere or nowhere. Create one per
 * deployment with {@link createCoordinator} and share it.
 */
export class Coordinator implements AsyncDisposable {
  readonly prefix: string
  readonly protocol: CommitProtocolName
  readonly decisionLog: DecisionLog | undefined
  /** The participants that keep the decisions of transactions they take part in (`decisionDatabases`). */
  readonly decisionDatabases: readonly DecisionLog[]
  /** Where parallel transactions fence their branches; parallel protocol only. */
  readonly fences: FenceTable | undefined
  readonly #maxTransactionDuration: number
  readonly #logger: Logger
  readonly #onStep: ProtocolStepObserver | undefined
  /** The decision databases by identity: a transaction's decision goes to one it takes part in. */
  readonly #holders: ReadonlyMap<string, DecisionLog>
  readonly #acknowledge: Acknowledge
  readonly #background: BackgroundCommits

  constructor(options: CoordinatorOptions) {
    if (options === null || typeof options !== 'object') {
      throw new ConfigurationError('createCoordinator() needs an options object.')
    }
    checkOptionNames(options, COORDINATOR_OPTIONS, 'createCoordinator()')
    this.prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX)
    this.protocol = options.protocol ?? 'decision'
    if (!PROTOCOL_NAMES.includes(this.protocol)) {
      throw new ConfigurationError(
        `Unknown protocol ${describeValue(this.protocol)}: use "decision" (the default), "parallel" or "sequential".`,
      )
    }
    this.#logger = options.logger ?? silentLogger
    this.#onStep = options.onStep
    const duration = options.maxTransactionDuration ?? ONE_HOUR_MS
    if (!Number.isFinite(duration) || duration <= 0) {
      throw new ConfigurationError(
        `maxTransactionDuration must be a positive number of milliseconds, not ${String(duration)}.`,
      )
    }
    this.#maxTransactionDuration = duration
    this.#acknowledge = checkAcknowledge(options.acknowledge ?? 'commit', this.protocol)
    const maxBackground = options.maxBackgroundCommits ?? DEFAULT_MAX_BACKGROUND_COMMITS
    if (!Number.isInteger(maxBackground) || maxBackground < 0) {
      throw new ConfigurationError(
        `maxBackgroundCommits must be a whole number of commits (0 or more), not ${describeValue(maxBackground)}.`,
      )
    }
    this.#background = new BackgroundCommits(maxBackground, this.#logger)
    this.decisionLog = decisionLogOf(options.decisionLog, this.#logger)
    this.decisionDatabases = decisionDatabasesOf(
      options.decisionDatabases,
      this.decisionLog,
      this.protocol,
      this.#logger,
    )
    this.#holders = new Map(this.decisionDatabases.map((log) => [log.database.identity, log]))
    if (
      this.decisionLog === undefined &&
      this.decisionDatabases.length === 0 &&
      this.protocol !== 'sequential'
    ) {
      throw new ConfigurationError(
        `The ${this.protocol} protocol needs a decision log: pass decisionLog: <one of your databases> ` +
          '(create its table once with coordinator.createDecisionLog()), or choose protocol: "sequential".',
      )
    }
    // Every decision id names its log: checked to fit an id once, here.
    if (this.protocol !== 'sequential') {
      for (const log of [this.decisionLog, ...this.decisionDatabases]) {
        if (log !== undefined) writerDecisionLogTag(log.database.name, log.tableText)
      }
    }
    if (options.fenceTable !== undefined && this.protocol !== 'parallel') {
      throw new ConfigurationError(
        `fenceTable is used by the parallel protocol only; this coordinator runs the ${this.protocol} protocol.`,
      )
    }
    this.fences =
      this.protocol === 'parallel'
        ? new FenceTable(options.fenceTable ?? DEFAULT_FENCE_TABLE, this.#logger)
        : undefined
  }

  /**
   * Creates the decision table if it does not exist: in the decision log and in every decision
   * database. Run once per deployment (or `txkit init`).
   *
   * @throws DecisionLogMissingError when it cannot be created (privileges, unreachable database).
   * @example
   * ```ts
   * const coordinator = createCoordinator({ decisionLog: orders })
   * await coordinator.createDecisionLog()
   * ```
   */
  async createDecisionLog(): Promise<void> {
    const logs = [this.decisionLog, ...this.decisionDatabases].filter(
      (log): log is DecisionLog => log !== undefined,
    )
    if (logs.length === 0) {
      throw new ConfigurationError('This coordinator has no decisionLog to create.')
    }
    for (const log of logs) await log.create()
  }

  /**
   * Creates the fence table in `database` if it does not exist: once in every database that takes
   * part in parallel transactions (or `txkit init --fences`).
   *
   * @throws ConfigurationError when this coordinator does not run the parallel protocol, or the
   *   database cannot take part in it.
   * @example
   * ```ts
   * const coordinator = createCoordinator({ protocol: 'parallel', decisionLog: orders })
   * await coordinator.createDecisionLog()
   * for (const database of [orders, ledger]) await coordinator.createFenceTable(database)
   * ```
   */
  async createFenceTable(database: AnyDatabase): Promise<void> {
    if (this.fences === undefined) {
      throw new ConfigurationError(
        `Fence tables serve the parallel protocol; this coordinator runs the ${this.protocol} protocol.`,
      )
    }
    assertDatabase(database, 'createFenceTable()')
    await this.fences.create(database)
  }

  /**
   * Inspects `databases` and this coordinator's decision log (and, under the parallel protocol,
   * its fence table) before the first transaction, as `txkit check` does; logs each finding
   * through the coordinator's logger and returns them. Opt-in: call it once at start-up.
   *
   * @example
   * ```ts
   * const coordinator = createCoordinator({ decisionLog: orders, logger: console })
   * const check = await coordinator.check({ orders, ledger }, { concurrency: 50 })
   * if (!check.ok) throw new Error('txkit: fix the findings above before taking traffic')
   * ```
   */
  async check(
    databases: Readonly<Record<string, AnyDatabase>> | readonly AnyDatabase[],
    options: Pick<CheckDeploymentOptions, 'concurrency' | 'maxClockSkew' | 'timeout'> = {},
  ): Promise<DeploymentCheck> {
    checkOptionNames(options, CHECK_OPTIONS, 'coordinator.check()')
    const result = await checkDeployment({
      ...options,
      databases,
      ...(this.decisionLog !== undefined && {
        decisionLog: { database: this.decisionLog.database, table: this.decisionLog.tableText },
      }),
      ...(this.decisionDatabases.length > 0 && {
        decisionDatabases: this.decisionDatabases.map((log) => ({
          database: log.database,
          table: log.tableText,
        })),
      }),
      ...(this.fences !== undefined && { fenceTable: this.fences.tableText }),
      prefix: this.prefix,
    })
    for (const finding of result.findings) {
      const fields = { database: finding.database, code: finding.code, fix: finding.fix }
      if (finding.severity === 'error') this.#logger.error(fields, `txkit: ${finding.message}`)
      else this.#logger.warn(fields, `txkit: ${finding.message}`)
    }
    return result
  }

  /**
   * Opens one branch per distinct database (each on a dedicated connection) and returns the
   * transaction, for callers that commit or roll back themselves. Without databases, the
   * transaction is open: databases join it later with `tx.join(name, database)` (decision protocol).
   *
   * @throws ConfigurationError on an empty or invalid set of databases.
   * @throws TransactionRolledBackError when a connection or a BEGIN fails (nothing was written).
   * @example
   * ```ts
   * await using tx = await coordinator.begin({ orders, ledger })
   * await tx.branches.orders.query('update stock set n = n - 1 where sku = $1', [sku])
   * await tx.branches.ledger.query('insert into moves (sku) values (?)', [sku])
   * await tx.commit()
   * ```
   */
  async begin<Databases extends Record<string, AnyDatabase>>(
    databases?: Databases,
  ): Promise<DistributedTransaction<BranchesOf<Databases>>> {
    const open = databases === undefined
    if (open && this.protocol === 'sequential') {
      throw new ConfigurationError(
        'The sequential protocol takes no databases after begin: pass every database to begin().',
      )
    }
    const groups = open ? [] : groupByIdentity(databases)
    // Refused before any connection is taken: a database that cannot hold a fence row.
    if (this.fences !== undefined && groups.length > 1) {
      for (const group of groups) FenceTable.dialectOf(group.database)
    }
    const decisionLog = this.#decisionLogFor(groups, open)
    const gtrid = newGtrid(
      this.protocol === 'sequential' ? 'sequential' : 'decision',
      this.prefix,
      Date.now(),
      this.protocol === 'sequential' ? undefined : decisionLog?.tag,
    )
    // A PostgreSQL decision database writes the 'C' row with its BEGIN when every participant is
    // known; an open transaction writes it at commit time, under the deadline.
    const participants = JSON.stringify(groups.map((group) => group.database.name))
    const decisionIdentity =
      this.protocol === 'decision' ? decisionLog?.database.identity : undefined
    const decisionDatabase = groups.find(
      (group) => group.database.identity === decisionIdentity,
    )?.database
    const context: CommitContext = {
      gtrid,
      protocol: this.protocol,
      branches: [],
      decisionBranch: undefined,
      decisionLog,
      fences: this.fences,
      staging:
        this.fences !== undefined && decisionLog !== undefined
          ? new StagingConnection(decisionLog.database)
          : undefined,
      // One branch commits in one phase and needs no decision at all.
      decisionInsertedAtBegin:
        groups.length > 1 &&
        decisionDatabase?.dialect.beginWithDecision !== undefined &&
        decisionLog !== undefined,
      deadline: Date.now() + this.#maxTransactionDuration,
      logger: this.#logger,
      onStep: this.#onStep,
      acknowledge: this.#acknowledge,
      background: this.#background,
      span: startSpan('txkit.transaction', {
        'txkit.transaction.id': gtrid,
        'txkit.transaction.prefix': this.prefix,
        'txkit.transaction.protocol': this.protocol,
      }),
    }
    const beginSpan = startSpan(
      'txkit.begin',
      { 'txkit.transaction.databases': groups.map((group) => group.database.name) },
      context.span,
    )
    let transaction: DistributedTransaction<BranchesOf<Databases>> | undefined
    const assertActive = () => transaction?.assertActive()
    const count = open ? 0 : groups.length
    const opening = groups.map((group, index) =>
      this.#openBranch(context, group, index, count, assertActive, participants),
    )
    // A parallel transaction's staged row has a connection of its own, taken in the same tick as
    // its branches (see StagingConnection).
    const staging = groups.length > 1 ? context.staging?.take() : undefined
    const opened = await Promise.allSettled([...opening, staging ?? Promise.resolve()])
    const failure = opened.find((result) => result.status === 'rejected')
    beginSpan?.end(failure === undefined ? undefined : (failure as PromiseRejectedResult).reason)
    if (failure !== undefined) {
      const reason = (failure as PromiseRejectedResult).reason
      context.span?.set({ 'txkit.transaction.outcome': 'rolled-back' })
      context.span?.end(reason)
      await Promise.all(context.branches.map(abandon))
      context.staging?.release()
      throw new TransactionRolledBackError(
        gtrid,
        context.branches.map((branch) => branch.report()),
        `Transaction ${gtrid} could not begin: ${errorMessage(reason)}`,
        { cause: reason },
      )
    }
    const handles: Record<string, BranchHandle> = {}
    for (const branch of context.branches) {
      for (const name of branch.names) handles[name] = branch.handle
    }
    transaction = new DistributedTransaction(
      this.protocol,
      context,
      handles as BranchesOf<Databases>,
      open
        ? (group: DatabaseGroup, index: number) => {
            // With the first join, in the same tick; a failure is retried at commit.
            context.staging?.take().catch(() => undefined)
            return this.#openBranch(context, group, index, 0, assertActive, '[]')
          }
        : undefined,
    )
    return transaction
  }

  /**
   * Where a transaction over `groups` records its decision: with decision databases, one of its
   * own participants among them (at random, to spread the load), else the decision log.
   */
  #decisionLogFor(groups: readonly DatabaseGroup[], open: boolean): DecisionLog | undefined {
    if (this.#holders.size === 0 || this.protocol !== 'decision') return this.decisionLog
    if (open) {
      if (this.decisionLog === undefined) {
        throw new ConfigurationError(
          "An open transaction (begin() without databases, or the transaction manager's) records its decision before its participants are known: " +
            'give the coordinator a decisionLog for these transactions too (decisionDatabases serve the others).',
        )
      }
      return this.decisionLog
    }
    const holders = groups
      .map((group) => this.#holders.get(group.database.identity))
      .filter((log): log is DecisionLog => log !== undefined)
    if (holders.length > 0) return holders[randomInt(holders.length)]
    if (this.decisionLog === undefined && groups.length > 1) {
      throw new ConfigurationError(
        `None of this transaction's databases (${groups.map((group) => `"${group.database.name}"`).join(', ')}) is among decisionDatabases, ` +
          'and the coordinator has no decisionLog for such transactions: list one of them in decisionDatabases (and create its table), or pass decisionLog.',
      )
    }
    return this.decisionLog
  }

  /**
   * Checks out a connection and opens one branch on it (BEGIN / XA START, and on the decision
   * database of a closed transaction the 'C' row). The branch joins `context` once begun; a branch
   * that fails to begin is given back and the error thrown.
   */
  async #openBranch(
    context: CommitContext,
    group: DatabaseGroup,
    index: number,
    count: number,
    assertActive: () => void,
    participants: string,
  ): Promise<Branch> {
    const decision =
      this.protocol === 'decision' &&
      group.database.identity === context.decisionLog?.database.identity
    // The decision database's branch is never prepared, but MySQL opens every branch as XA.
    const xid = branchXid(context.gtrid, count, index)
    const connection = await group.database.acquire()
    const branch = new Branch(group.names, index, xid, group.database, connection, assertActive)
    const decisionLog = context.decisionLog
    const fences = context.fences
    try {
      // Ended while the connection was awaited (a sibling flow failed and the transaction rolled
      // back): a branch added now would be neither rolled back nor given back.
      assertActive()
    } catch (error) {
      branch.state = 'rolled-back'
      branch.release()
      throw error
    }
    try {
      // A transaction of one database commits in one phase: no fence. An open one may be joined
      // by more, so each of its branches is fenced.
      if (fences !== undefined && count !== 1) {
        await FenceTable.dialectOf(group.database)
          .begin(connection, xid, fences.table, { gtrid: context.gtrid, index })
          .catch((error: unknown) => {
            throw group.database.dialect.isUndefinedTable(error)
              ? new ConfigurationError(
                  `The fence table ${fences.tableText} does not exist in database "${group.database.name}": create it once with \`await coordinator.createFenceTable(database)\` (or \`txkit init --fences\`).`,
                  { cause: error },
                )
              : error
          })
        branch.fenced = true
      } else if (decision && context.decisionInsertedAtBegin && decisionLog !== undefined) {
        const explain = (error: unknown) => decisionLog.explain(error)
        await branch.dialect
          .beginWithDecision?.(
            connection,
            xid,
            decisionLog.table,
            context.gtrid,
            participants,
            decisionLog.seenWorking ? { explain } : undefined,
          )
          .catch((error: unknown) => {
            throw explain(error)
          })
        decisionLog.markWorking()
      } else {
        await branch.dialect.begin(connection, xid)
      }
      // …or while its BEGIN was under way: the push below follows synchronously.
      assertActive()
    } catch (error) {
      branch.sessionDirty = true
      branch.state = 'rolled-back'
      branch.release()
      throw error
    }
    // Kept in index order: the sequential protocol prepares and commits in it, reports list it.
    context.branches.push(branch)
    context.branches.sort((a, b) => a.index - b.index)
    if (decision) context.decisionBranch = branch
    return branch
  }

  /**
   * Runs `work` in a transaction over `databases`: commits everywhere when it returns, rolls back
   * everywhere when it throws (and rethrows). Two names on one database share one branch.
   * `options.acknowledge` overrides the coordinator's for this commit.
   *
   * @throws TransactionRolledBackError nothing was committed anywhere; safe to retry.
   * @throws OutcomeUnknownError the outcome cannot be known here; recovery finishes it.
   * @example
   * ```ts
   * const coordinator = createCoordinator({ decisionLog: accounts })
   * await coordinator.transaction({ accounts, ledger }, async ({ accounts, ledger }) => {
   *   await accounts.query('update accounts set balance = balance - $1 where id = $2', [10, 1])
   *   await ledger.query('insert into entries (account_id, amount) values (?, ?)', [1, -10])
   * })
   * ```
   */
  async transaction<Databases extends Record<string, AnyDatabase>, Result>(
    databases: Databases & AtLeastOne<Databases>,
    work: (
      branches: BranchesOf<Databases>,
      transaction: DistributedTransaction<BranchesOf<Databases>>,
    ) => Promise<Result>,
    options?: CommitOptions,
  ): Promise<Result> {
    if (options !== undefined) {
      checkOptionNames(options, COMMIT_OPTIONS, 'transaction()')
      if (options.acknowledge !== undefined) checkAcknowledge(options.acknowledge, this.protocol)
    }
    const transaction = await this.begin(databases)
    let result: Result
    try {
      result = await work(transaction.branches, transaction)
    } catch (error) {
      if (transaction.status === 'active') await transaction.rollbackAfter(error)
      throw error
    }
    if (transaction.status === 'active') {
      try {
        await transaction.commit(options)
      } catch (error) {
        // Refused before it began (the transaction can only be rolled back): roll it back.
        if (transaction.status === 'active') await transaction.rollbackAfter(error)
        throw error
      }
    }
    return result
  }

  /**
   * Deletes the decision rows of finished transactions still queued (they are deleted in batches,
   * off the commit path). Call before exiting; rows left behind are removed by recovery later.
   *
   * @example
   * ```ts
   * process.once('SIGTERM', async () => {
   *   await coordinator.close()
   *   await pool.end()
   * })
   * ```
   */
  async close(): Promise<void> {
    await this.#background.drain()
    await this.decisionLog?.flush()
    await Promise.all(this.decisionDatabases.map((log) => log.flush()))
    await this.fences?.flush()
  }

  /**
   * What the commits acknowledged at their decision have come to: in flight, finished, and left
   * to recovery (a branch the background work could not commit; recovery commits it).
   *
   * @example
   * ```ts
   * const { inFlight, leftToRecovery } = coordinator.backgroundCommits
   * ```
   */
  get backgroundCommits(): BackgroundCommitStats {
    return this.#background.stats
  }

  /** `close()`, for `await using coordinator = createCoordinator(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}

export interface DatabaseGroup {
  readonly database: AnyDatabase
  readonly names: string[]
}

function groupByIdentity(databases: Record<string, AnyDatabase>): DatabaseGroup[] {
  if (databases === null || typeof databases !== 'object') {
    throw new ConfigurationError(
      'Pass the databases as a record of names to databases: { orders, ledger }.',
    )
  }
  const groups = new Map<string, DatabaseGroup>()
  for (const [name, database] of Object.entries(databases)) {
    assertDatabase(database, name)
    const group = groups.get(database.identity)
    if (group === undefined) {
      groups.set(database.identity, { database, names: [name] })
    } else {
      group.names.push(name)
    }
  }
  if (groups.size === 0) {
    throw new ConfigurationError('A transaction needs at least one database; none was given.')
  }
  if (groups.size > MAX_BRANCHES) {
    throw new ConfigurationError(
      `A transaction can span at most ${MAX_BRANCHES} databases; ${groups.size} were given.`,
    )
  }
  return [...groups.values()]
}

/** Undoes a branch of a begin that failed elsewhere: rolls it back and gives its connection back. */
async function abandon(branch: Branch): Promise<void> {
  try {
    await branch.dialect.rollbackActive(branch.connection, branch.xid)
  } catch {
    branch.sessionDirty = true
  }
  branch.state = 'rolled-back'
  branch.release()
}

/**
 * Creates a coordinator.
 *
 * @throws ConfigurationError on invalid options (bad prefix, no decision log for `decision`).
 * @example
 * ```ts
 * import pg from 'pg'
 * import { createCoordinator } from 'txkit'
 * import { pgDatabase } from 'txkit/node-postgres'
 *
 * const accounts = pgDatabase(new pg.Pool({ connectionString: process.env.ACCOUNTS_URL }), { name: 'accounts' })
 * const coordinator = createCoordinator({ prefix: 'billing', decisionLog: accounts })
 * ```
 */
export function createCoordinator(options: CoordinatorOptions): Coordinator {
  return new Coordinator(options)
}
