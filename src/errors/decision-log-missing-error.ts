import { ConfigurationError } from './configuration-error.js'

/** The decision table does not exist in the decision database (or cannot be created there). */
export class DecisionLogMissingError extends ConfigurationError {
  override readonly code = 'TXKIT_DECISION_LOG_MISSING'
  readonly isDecisionLogMissingError = true
  readonly database: string
  readonly table: string

  constructor(database: string, table: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.database = database
    this.table = table
  }
}

/**
 * True when `e` is a {@link DecisionLogMissingError}.
 *
 * @example
 * ```ts
 * if (isTransactionRolledBackError(e) && isDecisionLogMissingError(e.cause)) await coordinator.createDecisionLog()
 * ```
 */
export function isDecisionLogMissingError(e: unknown): e is DecisionLogMissingError {
  return (
    e instanceof Error && (e as Partial<DecisionLogMissingError>).isDecisionLogMissingError === true
  )
}
