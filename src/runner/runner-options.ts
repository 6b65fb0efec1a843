import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from '../util/describe-value.js'
import type { Logger } from '../util/logger.js'

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

/** The names `createRunner()` takes: any other is refused, never silently ignored. */
export const RUNNER_OPTIONS = new Set([
  'maxRetries',
  'initialDelay',
  'maxDelay',
  'lockTimeout',
  'statementTimeout',
  'logger',
])
/** The names `runner.run()` takes. */
export const RUN_OPTIONS = new Set([
  'name',
  'readOnly',
  'lockTimeout',
  'statementTimeout',
  'signal',
])

/** A count option: a whole number, 0 or more. */
export function wholeNumber(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value
  throw new ConfigurationError(`${name} is a whole number ≥ 0, not ${describeValue(value)}.`)
}

/** A delay option in ms: 0 or more. */
export function duration(value: unknown, name: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value
  throw new ConfigurationError(
    `${name} is a number of milliseconds ≥ 0, not ${describeValue(value)}.`,
  )
}

/** A time bound in ms, if given: more than 0, fractions kept (a bound is never rounded to none). */
export function timeout(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number' && Number.isFinite(value) && value > 0) return value
  throw new ConfigurationError(
    `${name} is a number of milliseconds > 0 (fractions are honoured, never rounded to 0), not ${describeValue(value)}.`,
  )
}
