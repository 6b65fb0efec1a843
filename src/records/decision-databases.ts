import type { Database } from '../database/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from '../util/describe-value.js'
import type { Logger } from '../util/logger.js'
import type { CommitProtocolName } from '../xid/xid.js'
import { type DecisionLog, type DecisionLogOptions, decisionLogOf } from './decision-log.js'

/**
 * The decision logs a `decisionDatabases` option names, checked: a non-empty list, one entry per
 * database, and no two logs (counting `decisionLog`) that a transaction id could not tell apart.
 * `protocol` is the writers' (undefined for recovery, which reads whatever the writers wrote).
 *
 * @example
 * ```ts
 * decisionDatabasesOf([orders, { database: ledger, table: 'billing.decisions' }], undefined, 'decision', console)
 * ```
 */
export function decisionDatabasesOf(
  option: ReadonlyArray<Database | DecisionLogOptions> | undefined,
  decisionLog: DecisionLog | undefined,
  protocol: CommitProtocolName | undefined,
  logger: Logger,
): DecisionLog[] {
  if (option === undefined) return []
  if (!Array.isArray(option) || option.length === 0) {
    throw new ConfigurationError(
      `decisionDatabases must list the databases that keep decisions ([orders, ledger]), not ${describeValue(option)}.`,
    )
  }
  if (protocol !== undefined && protocol !== 'decision') {
    throw new ConfigurationError(
      `decisionDatabases serve the decision protocol; this coordinator runs the ${protocol} protocol, whose decisions go to decisionLog.`,
    )
  }
  const logs = option.map((entry: Database | DecisionLogOptions, position) => {
    if (entry === null || typeof entry !== 'object') {
      throw new ConfigurationError(
        `decisionDatabases[${position}] must be a database or { database, table }, not ${describeValue(entry)}.`,
      )
    }
    return decisionLogOf(entry, logger) as DecisionLog
  })
  const byIdentity = new Map<string, DecisionLog>()
  const byTag = new Map<string, DecisionLog>()
  if (decisionLog !== undefined) byTag.set(decisionLog.tag, decisionLog)
  for (const log of logs) {
    const sameDatabase = byIdentity.get(log.database.identity)
    if (sameDatabase !== undefined) {
      throw new ConfigurationError(
        `decisionDatabases lists database "${log.database.name}" twice (as "${sameDatabase.database.name}" too): one decision table per database.`,
      )
    }
    byIdentity.set(log.database.identity, log)
    const sameTag = byTag.get(log.tag)
    if (sameTag !== undefined && sameTag.database.identity !== log.database.identity) {
      throw new ConfigurationError(
        `Two decision logs are named "${log.tag}" (databases "${sameTag.database.name}" and "${log.database.name}" are different databases): ` +
          'a transaction id names the log holding its decision by database name, so give each database its own stable name.',
      )
    }
    byTag.set(log.tag, log)
  }
  return logs
}
