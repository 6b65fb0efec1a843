import { ConfigurationError } from '../errors/configuration-error.js'
import { isOutcomeUnknownError } from '../errors/outcome-unknown-error.js'
import { backoffDelay } from '../util/backoff.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { sleep } from '../util/sleep.js'
import type { ManagedTransaction } from './managed-transaction.js'
import { isRetryableTransactionError } from './retryable-error.js'

/** One run of a transaction in {@link TransactionManager.attempts}. */
export interface TransactionAttempt {
  /** 1 for the first run. */
  readonly number: number
  /**
   * Runs the transaction. Resolves `{ done: true, value }` on success, `{ done: false }` after a
   * retryable failure (the loop goes on); rejects with any other failure or the last attempt's.
   */
  run<Result>(
    work: (transaction: ManagedTransaction) => Promise<Result>,
  ): Promise<{ done: true; value: Result } | { done: false }>
}

export interface RetryOptions {
  /** Runs in all, the first included (default 3). */
  readonly attempts?: number
  /** Backoff before the second run, ms (default 25); doubles each time, capped by `maxDelay`. */
  readonly initialDelay?: number
  /** Longest backoff, ms (default 1000). */
  readonly maxDelay?: number
  /** Also retry errors this (or a joined resource's `shouldRetry`) accepts; never outcome-unknown. */
  readonly shouldRetry?: (error: unknown) => boolean
  /** Stops retrying (the last error is thrown) and cuts a backoff short. */
  readonly signal?: AbortSignal
}

/** The names `manager.attempts()` takes in its options. */
const ATTEMPTS_OPTIONS: ReadonlySet<string> = new Set([
  'initialDelay',
  'maxDelay',
  'shouldRetry',
  'signal',
])
/** The names `manager.retry()` takes. */
export const RETRY_OPTIONS: ReadonlySet<string> = new Set([...ATTEMPTS_OPTIONS, 'attempts'])

/**
 * Zope's `attempts()` over `run`, which runs one whole transaction: yields up to `count` attempts;
 * the loop ends when one succeeds; after a retryable failure it backs off (capped exponential, full
 * jitter) and yields the next; any other failure, or the last attempt's, is thrown. Retryable: what
 * `isRetryableTransactionError`, `shouldRetry` or a joined resource's `shouldRetry` accepts, never
 * an outcome-unknown commit.
 *
 * @throws ConfigurationError for a bad count or option, at the first step.
 * @example
 * ```ts
 * for await (const attempt of transactionAttempts((work) => manager.run(work), 3)) {
 *   await attempt.run((tx) => transfer(tx, from, to, amount))
 * }
 * ```
 */
export async function* transactionAttempts(
  run: <Result>(work: (transaction: ManagedTransaction) => Promise<Result>) => Promise<Result>,
  count: number,
  options: Omit<RetryOptions, 'attempts'> = {},
): AsyncGenerator<TransactionAttempt, void, undefined> {
  if (!Number.isInteger(count) || count < 1) {
    throw new ConfigurationError(`attempts must be a whole number ≥ 1, not ${String(count)}.`)
  }
  checkOptionNames(options, ATTEMPTS_OPTIONS, 'manager.attempts()', {
    attempts: 'the first argument of attempts(count, options)',
  })
  const initialDelay = options.initialDelay ?? 25
  const maxDelay = options.maxDelay ?? 1000
  for (let number = 1; ; number++) {
    let retrying = false
    yield {
      number,
      run: async <Result>(work: (transaction: ManagedTransaction) => Promise<Result>) => {
        let transaction: ManagedTransaction | undefined
        try {
          const value = await run((current) => {
            transaction = current
            return work(current)
          })
          return { done: true as const, value }
        } catch (error) {
          const retryable =
            !isOutcomeUnknownError(error) &&
            (isRetryableTransactionError(error) ||
              options.shouldRetry?.(error) === true ||
              (transaction?.resources ?? []).some(
                (resource) => resource.shouldRetry?.(error) === true,
              ))
          if (!retryable || number >= count || options.signal?.aborted) throw error
          retrying = true
          return { done: false as const }
        }
      },
    }
    if (!retrying) return
    await sleep(backoffDelay(number, initialDelay, maxDelay), options.signal)
  }
}
