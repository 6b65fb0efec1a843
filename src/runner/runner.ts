import type { Database } from '../database/database.js'
import type { HeldSession } from '../database/held-session.js'
import type { OperationSettings } from '../dialect/runner-dialect.js'
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown-error.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { RetryTransactionError } from '../errors/retry-transaction-error.js'
import { RunAbortedError } from '../errors/run-aborted-error.js'
import type { BranchHandle } from '../protocol/branch.js'
import { type SpanAttributes, startSpan } from '../tracing/span.js'
import { backoffDelay } from '../util/backoff.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { errorMessage } from '../util/error-message.js'
import { type Logger, silentLogger } from '../util/logger.js'
import { sleep } from '../util/sleep.js'
import { type AttemptDatabase, runAttempt } from './runner-attempt.js'
import {
  duration,
  RUN_OPTIONS,
  RUNNER_OPTIONS,
  type RunnerOptions,
  type RunOptions,
  timeout,
  wholeNumber,
} from './runner-options.js'
import { resolveTarget } from './runner-target.js'
import { classifyError } from './transient-error.js'

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
      const noted: AttemptDatabase = { name: undefined, kind: 'unknown' }
      const span = startSpan('txkit.run.attempt', {
        'txkit.run.name': name,
        'txkit.run.attempt': attempt,
      })
      try {
        const value = await runAttempt(resolved, settings, noted, (session) =>
          operation(session.exposed as SessionOf<Target>, context),
        )
        span?.set(databaseAttributes(noted))
        span?.end()
        this.#logger.info?.(
          { name, database: noted.kind, attempt, elapsedMs: elapsed(started) },
          `txkit: ${name} done`,
        )
        return value
      } catch (error) {
        lastError = error
        const { transient, code } = classifyError(error)
        span?.set({ ...databaseAttributes(noted), 'txkit.run.transient': transient })
        span?.end(error)
        const final =
          !transient ||
          attempt > this.#maxRetries ||
          error instanceof RetryTransactionError ||
          error instanceof CommitOutcomeUnknownError ||
          error instanceof ConfigurationError
        const record = {
          name,
          database: noted.kind,
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
}

function aborted(name: string, signal: AbortSignal, lastError: unknown): RunAbortedError {
  return new RunAbortedError(
    `${name} was aborted${lastError === undefined ? '' : ` while retrying (${errorMessage(lastError)})`}.`,
    signal.reason,
    lastError,
  )
}

/**
 * A run attempt's span names its database as the commit spans do, `txkit.database` the database's
 * name (none for a held session), and its kind apart, as OpenTelemetry's `db.system` (`postgresql` …).
 */
function databaseAttributes(noted: AttemptDatabase): SpanAttributes {
  return {
    'db.system': noted.kind.toLowerCase(),
    ...(noted.name !== undefined && { 'txkit.database': noted.name }),
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10
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
