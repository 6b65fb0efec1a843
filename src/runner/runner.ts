import type { OperationSettings } from '../dialect/runner-dialect.js'
import type { Database } from '../driver/database.js'
import type { HeldSession } from '../driver/held-session.js'
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown-error.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { RetryTransactionError } from '../errors/retry-transaction-error.js'
import { RunAbortedError } from '../errors/run-aborted-error.js'
import { inBranchTurn } from '../manager/branch-turns.js'
import type { BranchHandle } from '../protocol/branch.js'
import { startSpan } from '../tracing/span.js'
import { backoffDelay } from '../util/backoff.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { errorMessage } from '../util/error-message.js'
import { type Logger, silentLogger } from '../util/logger.js'
import { sleep } from '../util/sleep.js'
import { type ResolvedTarget, type RunnerSession, resolveTarget } from './runner-target.js'
import { classifyError } from './transient-error.js'

export interface RunnerOptions {
  /** Retries after the first attempt (default 5): at most `maxRetries + 1` attempts. */
  readonly maxRetries?: number
  /** First backoff ceiling, ms (default 100); it doubles per retry, up to `maxDelay`. */
  readonly initialDelay?: number
  /** Longest backoff, ms (default 1000). Each delay is drawn uniformly below its ceiling. */
  readonly maxDelay?: number
  /** Default per-operation lock wait bound, ms. */
  readonly lockTimeout?: number
  /** Default per-operation statement time bound, ms. */
  readonly statementTimeout?: number
  /** Where structured records go (pino and console fit). Silent by default. */
  readonly logger?: Logger
}

export interface RunOptions {
  /** Names the operation in log records and errors (default `operation`). */
  readonly name?: string
  /** Runs it read-only where the database can enforce it (see the README). */
  readonly readOnly?: boolean
  /** Lock wait bound for this operation, ms (fractions honoured where the database can). */
  readonly lockTimeout?: number
  /** Statement time bound for this operation, ms. */
  readonly statementTimeout?: number
  /** Stops retrying: checked before each attempt and during backoff. Also given to the operation. */
  readonly signal?: AbortSignal
}

/** What the operation is told about its attempt. */
export interface OperationContext {
  readonly name: string
  /** 1 for the first attempt. */
  readonly attempt: number
  readonly signal: AbortSignal | undefined
}

/**
 * What the operation receives for a target: a txkit database's driver connection (a node-postgres
 * `PoolClient`, a postgres.js reserved connection, a mysql2 or mariadb `PoolConnection`), a held
 * session's own connection or database; a branch handle is passed as it is.
 */
export type SessionOf<Target> =
  Target extends HeldSession<infer Raw>
    ? Raw
    : Target extends { acquire(): Promise<{ raw: infer Raw }> }
      ? Raw
      : Target

/** What `runner.run` works on. */
// biome-ignore lint/suspicious/noExplicitAny: any driver's database, handle or session
export type RunTarget = Database<any> | BranchHandle<any> | HeldSession<any>

const RUNNER_OPTIONS = new Set([
  'maxRetries',
  'initialDelay',
  'maxDelay',
  'lockTimeout',
  'statementTimeout',
  'logger',
])
const RUN_OPTIONS = new Set(['name', 'readOnly', 'lockTimeout', 'statementTimeout', 'signal'])

let savepoints = 0

/**
 * Runs database operations with retries on transient errors, capped exponential backoff with full
 * jitter, and per-operation lock and statement timeouts. Create one with {@link createRunner}.
 */
export class Runner {
  readonly #maxRetries: number
  readonly #initialDelay: number
  readonly #maxDelay: number
  readonly #lockTimeout: number | undefined
  readonly #statementTimeout: number | undefined
  readonly #logger: Logger

  /** @internal Use {@link createRunner}. */
  constructor(options: RunnerOptions) {
    checkOptionNames(options, RUNNER_OPTIONS, 'createRunner()')
    this.#maxRetries = wholeNumber(options.maxRetries ?? 5, 'maxRetries')
    this.#initialDelay = duration(options.initialDelay ?? 100, 'initialDelay')
    this.#maxDelay = duration(options.maxDelay ?? 1000, 'maxDelay')
    this.#lockTimeout = timeout(options.lockTimeout, 'lockTimeout')
    this.#statementTimeout = timeout(options.statementTimeout, 'statementTimeout')
    this.#logger = options.logger ?? silentLogger
  }

  /**
   * Runs `operation` against `target` until it succeeds, fails with a permanent error, or has used
   * its retries.
   *
   * - A txkit database: each attempt checks a session out, opens a transaction (READ ONLY
   *   for `readOnly`) with the timeouts in force, runs the operation and commits; a transient error
   *   rolls back and retries the whole attempt. A COMMIT whose outcome is unknown is never retried
   *   (`CommitOutcomeUnknownError`).
   * - A session already in a transaction (a branch handle, or a held session such as
   *   `pgSession(client)` over a client you hold in a transaction, `sqliteSession(db)` over a
   *   better-sqlite3 database in one): each attempt runs in a savepoint,
   *   rolled back to on failure, released on success, with the settings put back either way. An
   *   error that undid the whole transaction (a MySQL/MariaDB deadlock, a lost connection) is never
   *   retried inside it: `RetryTransactionError` tells the caller to rerun the transaction.
   *
   * @throws RetryTransactionError / CommitOutcomeUnknownError / RunAbortedError as above.
   * @throws ConfigurationError for bad options, or settings the database cannot honour.
   * @example
   * ```ts
   * import pg from 'pg'
   * import { createRunner } from 'txkit'
   * import { pgDatabase } from 'txkit/node-postgres'
   *
   * const runner = createRunner({ maxRetries: 3, lockTimeout: 2_000 })
   * const payments = pgDatabase(new pg.Pool({ connectionString: process.env.DATABASE_URL }), { name: 'payments' })
   * const total = await runner.run(payments, async (client) => {
   *   const { rows } = await client.query('SELECT sum(amount) AS total FROM payments')
   *   return rows[0].total
   * }, { name: 'sum-payments', readOnly: true, statementTimeout: 5_000 })
   * ```
   */
  async run<Target extends RunTarget, Result>(
    target: Target,
    operation: (session: SessionOf<Target>, context: OperationContext) => Promise<Result> | Result,
    options: RunOptions = {},
  ): Promise<Result> {
    checkOptionNames(options ?? {}, RUN_OPTIONS, 'runner.run()')
    const name = options.name ?? 'operation'
    if (typeof name !== 'string' || name.length === 0) {
      throw new ConfigurationError(`name is a non-empty string, not ${describeValue(name)}.`)
    }
    if (typeof operation !== 'function') {
      throw new ConfigurationError('runner.run(target, operation) needs a function to run.')
    }
    const settings: OperationSettings = {
      lockTimeout: timeout(options.lockTimeout, 'lockTimeout') ?? this.#lockTimeout,
      statementTimeout:
        timeout(options.statementTimeout, 'statementTimeout') ?? this.#statementTimeout,
      readOnly: options.readOnly === true,
    }
    const resolved = resolveTarget(target)
    const signal = options.signal
    let lastError: unknown
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw aborted(name, signal, lastError)
      const started = performance.now()
      const context: OperationContext = { name, attempt, signal }
      const noted = { database: 'unknown' }
      const span = startSpan('txkit.run.attempt', {
        'txkit.run.name': name,
        'txkit.run.attempt': attempt,
      })
      try {
        const value = await this.#attempt(resolved, settings, noted, (session) =>
          operation(session.exposed as SessionOf<Target>, context),
        )
        const { database } = noted
        span?.set({ 'txkit.database': database })
        span?.end()
        this.#logger.info?.(
          { name, database, attempt, elapsedMs: elapsed(started) },
          `txkit: ${name} done`,
        )
        return value
      } catch (error) {
        lastError = error
        const { transient, code } = classifyError(error)
        span?.set({ 'txkit.database': noted.database, 'txkit.run.transient': transient })
        span?.end(error)
        const final =
          !transient ||
          attempt > this.#maxRetries ||
          error instanceof RetryTransactionError ||
          error instanceof CommitOutcomeUnknownError ||
          error instanceof ConfigurationError
        const record = {
          name,
          database: noted.database,
          attempt,
          transient,
          ...(code !== undefined && { code }),
          elapsedMs: elapsed(started),
          error: errorMessage(error),
        }
        if (final) {
          this.#logger.error(record, `txkit: ${name} failed`)
          throw error
        }
        const delayMs = Math.round(backoffDelay(attempt, this.#initialDelay, this.#maxDelay))
        this.#logger.warn({ ...record, delayMs }, `txkit: ${name} failed, retrying`)
        await sleep(delayMs, signal)
        if (signal?.aborted) throw aborted(name, signal, lastError)
      }
    }
  }

  async #attempt<Result>(
    target: ResolvedTarget,
    settings: OperationSettings,
    noted: { database: string },
    operation: (session: RunnerSession) => Promise<Result> | Result,
  ): Promise<Result> {
    if (target.kind === 'transaction') {
      // The caller's session: theirs to keep, never released here.
      const session = await target.session
      noted.database = session.dialect.name
      return inSavepoint(session, settings, operation)
    }
    const session = await target.open()
    noted.database = session.dialect.name
    return standalone(session, settings, operation)
  }
}

/**
 * One attempt in a savepoint of the caller's transaction. On a branch of a managed transaction
 * the attempt takes the transaction's turn: a sibling flow's savepoint set inside the attempt's
 * would be undone by its rollback after the sibling was told it succeeded.
 */
function inSavepoint<Result>(
  session: RunnerSession,
  settings: OperationSettings,
  operation: (session: RunnerSession) => Promise<Result> | Result,
): Promise<Result> {
  return inBranchTurn(session.exposed, 'a runner operation', () =>
    attemptInSavepoint(session, settings, operation),
  )
}

async function attemptInSavepoint<Result>(
  session: RunnerSession,
  settings: OperationSettings,
  operation: (session: RunnerSession) => Promise<Result> | Result,
): Promise<Result> {
  refuse(session, settings, true)
  const { connection } = session
  const exit = await session.dialect.enter(connection, `txkit_op_${++savepoints}`, settings)
  let value: Result
  try {
    value = await operation(session)
  } catch (error) {
    const { transient, scope } = classifyError(error)
    if (scope !== 'statement') throw wholeTransaction(session, error)
    try {
      await exit.rollback()
    } catch (rollbackError) {
      // The savepoint is gone with the transaction (MySQL with innodb_rollback_on_timeout, a
      // session that died): the earlier work is lost too.
      if (transient || classifyError(rollbackError).scope !== 'statement') {
        throw wholeTransaction(session, error)
      }
      throw error
    }
    throw error
  }
  try {
    await exit.release()
  } catch (error) {
    if (classifyError(error).scope !== 'statement') throw wholeTransaction(session, error)
    throw error
  }
  return value
}

/** One attempt in a transaction of the runner's own, on a session of the pool. */
async function standalone<Result>(
  session: RunnerSession,
  settings: OperationSettings,
  operation: (session: RunnerSession) => Promise<Result> | Result,
): Promise<Result> {
  const { connection, dialect } = session
  // Whether the session may go back to the pool: its transaction ended and its settings are back.
  let reusable = false
  try {
    refuse(session, settings, false)
    const undo = await dialect.begin(connection, settings)
    let value: Result
    try {
      value = await operation(session)
    } catch (error) {
      reusable =
        classifyError(error).scope !== 'connection' &&
        (await dialect
          .rollback(connection)
          .then(undo)
          .then(
            () => true,
            () => false,
          ))
      throw error
    }
    try {
      await dialect.commit(connection)
    } catch (error) {
      if (classifyError(error).scope === 'connection') {
        throw new CommitOutcomeUnknownError(
          `The connection to ${dialect.name} was lost during COMMIT: the operation may or may not have committed. It is not retried.`,
          { cause: error },
        )
      }
      // A failed COMMIT (a serialization failure at commit, say) has rolled the transaction back.
      reusable = await undo().then(
        () => true,
        () => false,
      )
      throw error
    }
    await undo()
    reusable = true
    return value
  } finally {
    connection.release(!reusable)
  }
}

function refuse(session: RunnerSession, settings: OperationSettings, inside: boolean): void {
  const refusal = session.dialect.refuse(settings, inside)
  if (refusal !== undefined) throw new ConfigurationError(refusal)
}

function wholeTransaction(session: RunnerSession, cause: unknown): RetryTransactionError {
  return new RetryTransactionError(
    `${session.dialect.name} undid the whole transaction (${errorMessage(cause)}): retrying the operation alone would lose the transaction's earlier work. Roll back and rerun the whole transaction (manager.retry does).`,
    { cause },
  )
}

function aborted(name: string, signal: AbortSignal, lastError: unknown): RunAbortedError {
  return new RunAbortedError(
    `${name} was aborted${lastError === undefined ? '' : ` while retrying (${errorMessage(lastError)})`}.`,
    signal.reason,
    lastError,
  )
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10
}

function wholeNumber(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value
  throw new ConfigurationError(`${name} is a whole number ≥ 0, not ${describeValue(value)}.`)
}

function duration(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  throw new ConfigurationError(
    `${name} is a number of milliseconds ≥ 0, not ${describeValue(value)}.`,
  )
}

function timeout(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value
  throw new ConfigurationError(
    `${name} is a number of milliseconds > 0 (fractions are honoured, never rounded to 0), not ${describeValue(value)}.`,
  )
}

/**
 * A runner for database operations: retries with backoff, savepoints inside transactions,
 * per-operation timeouts, structured logs.
 *
 * @example
 * ```ts
 * const runner = createRunner({ maxRetries: 5, initialDelay: 50, maxDelay: 2_000, logger: pino() })
 * await runner.run(pool, (client) => client.query('UPDATE stock SET n = n - 1 WHERE sku = $1', [sku]))
 * ```
 */
export function createRunner(options: RunnerOptions = {}): Runner {
  return new Runner(options ?? {})
}
