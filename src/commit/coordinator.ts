import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionRolledBackError } from '../errors/transaction-rolled-back-error.js'
import type { OutboxDefinition } from '../message/outbox-options.js'
import type { CheckDeploymentOptions, DeploymentCheck } from '../preflight/check-deployment.js'
import { type BackgroundCommitStats, BackgroundCommits } from '../protocol/background-commits.js'
import type { BranchHandle } from '../protocol/branch.js'
import type { CommitOptions } from '../protocol/commit-result.js'
import { RunOutbox } from '../protocol/run-outbox.js'
import type { TransactionRun } from '../protocol/transaction-run.js'
import type { DecisionLog } from '../records/decision-log.js'
import type { FenceTable } from '../records/fence-table.js'
import { startSpan } from '../tracing/span.js'
import { errorMessage } from '../util/error-message.js'
import { type CommitProtocolName, newGtrid } from '../xid/xid.js'
import { checkCoordinator } from './check-coordinator.js'
import { COORDINATOR_OPTIONS, type CoordinatorOptions } from './coordinator-options.js'
import {
  type CoordinatorSettings,
  coordinatorSettings,
  decisionLogFor,
} from './coordinator-settings.js'
import {
  type AtLeastOne,
  type BranchesOf,
  type DatabaseGroup,
  groupByIdentity,
} from './database-group.js'
import { DistributedTransaction } from './distributed-transaction.js'
import { abandon, openBranch } from './open-branch.js'
import { PROTOCOLS } from './protocols.js'
import {
  checkTransactionOptions,
  runTransaction,
  type TransactionResult,
  type TransactionWork,
} from './transaction-result.js'

export { type AtLeastOne, type BranchesOf, COORDINATOR_OPTIONS, type CoordinatorOptions }

// biome-ignore lint/suspicious/noExplicitAny: any driver's connection type
type AnyDatabase = Database<any>

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
  /** The `outbox` option, checked: its tables and destinations (docs/outbox.md). */
  readonly outbox: OutboxDefinition | undefined
  readonly #settings: CoordinatorSettings
  readonly #background: BackgroundCommits

  constructor(options: CoordinatorOptions) {
    const settings = coordinatorSettings(options)
    this.prefix = settings.prefix
    this.protocol = settings.protocol
    this.decisionLog = settings.decisionLog
    this.decisionDatabases = settings.decisionDatabases
    this.fences = settings.fences
    this.outbox = settings.outbox
    this.#settings = settings
    this.#background = new BackgroundCommits(settings.maxBackgroundCommits, settings.logger)
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
    return checkCoordinator(this.#settings, databases, options)
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
    const protocol = PROTOCOLS[this.protocol]
    const groupDatabases = groups.map((group) => group.database)
    protocol.checkDatabases(groupDatabases)
    const decisionLog = decisionLogFor(this.#settings, groups, open)
    const gtrid = newGtrid(
      this.protocol === 'sequential' ? 'sequential' : 'decision',
      this.prefix,
      Date.now(),
      this.protocol === 'sequential' ? undefined : decisionLog?.tag,
    )
    const run: TransactionRun = {
      gtrid,
      protocol: this.protocol,
      branches: [],
      deadline: Date.now() + this.#settings.maxTransactionDuration,
      logger: this.#settings.logger,
      onStep: this.#settings.onStep,
      background: this.#background,
      outbox: this.#settings.outbox && new RunOutbox(this.#settings.outbox),
      span: startSpan('txkit.transaction', {
        'txkit.transaction.id': gtrid,
        'txkit.transaction.prefix': this.prefix,
        'txkit.transaction.protocol': this.protocol,
      }),
    }
    const rules = protocol.start(run, {
      decisionLog,
      fences: this.fences,
      databases: groupDatabases,
    })
    const beginSpan = startSpan(
      'txkit.begin',
      { 'txkit.transaction.databases': groups.map((group) => group.database.name) },
      run.span,
    )
    let transaction: DistributedTransaction<BranchesOf<Databases>> | undefined
    const assertActive = () => transaction?.assertActive()
    const count = open ? 0 : groups.length
    const opening = groups.map((group, index) =>
      openBranch(run, rules, group, index, count, assertActive),
    )
    // What the protocol takes along (a parallel transaction's staging connection) is taken in the
    // same tick as the branches' connections (see StagingConnection).
    const along = groups.length > 1 ? rules.takeAlong() : undefined
    const opened = await Promise.allSettled([...opening, along ?? Promise.resolve()])
    const failed = opened.findIndex((result) => result.status === 'rejected')
    const failure = opened[failed]
    beginSpan?.end(failure === undefined ? undefined : (failure as PromiseRejectedResult).reason)
    if (failure !== undefined) {
      const where = groups[failed]?.database.name // none: the protocol's connection taken along
      const reason = (failure as PromiseRejectedResult).reason
      run.span?.set({ 'txkit.transaction.outcome': 'rolled-back' })
      run.span?.end(reason)
      await Promise.all(run.branches.map(abandon))
      rules.release()
      throw new TransactionRolledBackError(
        gtrid,
        run.branches.map((branch) => branch.report()),
        `Transaction ${gtrid} could not begin${where === undefined ? '' : ` on "${where}"`}: ${errorMessage(reason)}`,
        { cause: reason },
      )
    }
    const handles: Record<string, BranchHandle> = {}
    for (const branch of run.branches) {
      for (const name of branch.names) handles[name] = branch.handle
    }
    transaction = new DistributedTransaction(
      run,
      rules,
      this.#settings.acknowledge,
      handles as BranchesOf<Databases>,
      open
        ? (group: DatabaseGroup, index: number) => {
            // With the first join, in the same tick; a failure is retried at commit.
            rules.takeAlong()?.catch(() => undefined)
            return openBranch(run, rules, group, index, 0, assertActive)
          }
        : undefined,
      decisionLog?.database,
    )
    return transaction
  }

  /**
   * Runs `work` in a transaction over `databases`: commits everywhere when it returns, rolls back
   * everywhere when it throws (and rethrows). Two names on one database share one branch.
   * `options.acknowledge` overrides the coordinator's for this commit. Resolves to what `work`
   * returned; {@link transactionResult} also gives the commit's report.
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
    work: TransactionWork<Databases, Result>,
    options?: CommitOptions,
  ): Promise<Result> {
    checkTransactionOptions(options, this.protocol, 'transaction()')
    return (await runTransaction(await this.begin(databases), work, options)).value
  }

  /**
   * {@link transaction}, resolving to `{ value, result }`: what `work` returned and the commit's
   * report. Acknowledged at the decision, `result.pending` lists the branches still being
   * committed in the background and `result.completion` resolves once they are. Throws as
   * {@link transaction} does.
   *
   * @example
   * ```ts
   * const { value: id, result } = await coordinator.transactionResult(
   *   { accounts, ledger },
   *   async ({ accounts, ledger }) => placeOrder(accounts, ledger),
   *   { acknowledge: 'decision' },
   * )
   * void result?.completion?.then((final) => log(final.pending)) // left to recovery, if any
   * ```
   */
  async transactionResult<Databases extends Record<string, AnyDatabase>, Result>(
    databases: Databases & AtLeastOne<Databases>,
    work: TransactionWork<Databases, Result>,
    options?: CommitOptions,
  ): Promise<TransactionResult<Result>> {
    checkTransactionOptions(options, this.protocol, 'transactionResult()')
    return runTransaction(await this.begin(databases), work, options)
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
