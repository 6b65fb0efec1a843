import { createHash } from 'node:crypto'
import { ConfigurationError } from '../errors/configuration-error.js'

/** The decision table's name when none is configured. */
export const DEFAULT_DECISION_TABLE = 'txkit_decision'

/**
 * The most characters a decision log tag may have: MySQL limits an XA id to 64 bytes, and a
 * decision id spends 43 of them on the prefix, the start time, the random part, the branch count
 * and the branch index.
 */
export const MAX_DECISION_LOG_TAG = 21

/**
 * How a transaction id names the decision log holding its decision: the decision database's stable
 * name, followed by `~` and 4 hex digits of the table's name when it is not the default table.
 * Recovery configured with another log compares tags and leaves the transaction alone.
 *
 * @example
 * ```ts
 * decisionLogTag('accounts', 'txkit_decision') // 'accounts'
 * decisionLogTag('accounts', 'billing.decisions') // 'accounts~3e1f' (4 hex digits of the table)
 * ```
 */
export function decisionLogTag(databaseName: string, table: string): string {
  if (table === DEFAULT_DECISION_TABLE) return databaseName
  return `${databaseName}~${createHash('sha256').update(table).digest('hex').slice(0, 4)}`
}

/**
 * The tag of the decision log writers record in (see {@link decisionLogTag}), checked to fit in a
 * transaction id.
 *
 * @throws ConfigurationError when the database's name is too long for a transaction id.
 */
export function writerDecisionLogTag(databaseName: string, table: string): string {
  const tag = decisionLogTag(databaseName, table)
  if (tag.length > MAX_DECISION_LOG_TAG) {
    const room = MAX_DECISION_LOG_TAG - (tag.length - databaseName.length)
    throw new ConfigurationError(
      `The decision database's name "${databaseName}" is too long: every transaction id names the database ` +
        `holding its decision (MySQL limits an XA id to 64 bytes), which leaves ${room} characters for it` +
        `${table === DEFAULT_DECISION_TABLE ? '' : ` with a table other than ${DEFAULT_DECISION_TABLE}`}. ` +
        'Give the decision database a shorter stable name.',
    )
  }
  return tag
}
