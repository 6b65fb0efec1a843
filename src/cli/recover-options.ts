import type { RecoverOptions } from '../recovery/recover.js'
import type { Values } from './cli-options.js'
import type { ConnectedDatabase } from './connect.js'
import { decisionDatabaseOf, decisionDatabasesOption } from './decision-options.js'
import { parseDuration } from './duration.js'
import { UsageError } from './usage-error.js'

/** `--concurrency N`: a positive whole number, if given. */
export function concurrencyOf(values: Values): number | undefined {
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency)
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new UsageError('--concurrency takes a positive whole number.')
  }
  return concurrency
}

/** What `recover()` is asked to do, from the selection options: status, recover and watch. */
export function recoverOptions(
  values: Values,
  connected: readonly ConnectedDatabase[],
): RecoverOptions {
  const databases = connected.map((entry) => entry.database)
  const decisionLog = decisionDatabaseOf(values, connected)
  const decisionDatabases = decisionDatabasesOption(values, connected)
  const protocol = values.protocol
  if (protocol !== undefined && !['decision', 'sequential', 'all'].includes(protocol)) {
    throw new UsageError(`--protocol takes decision, sequential or all, not "${protocol}".`)
  }
  if (
    protocol !== undefined &&
    protocol !== 'sequential' &&
    decisionLog === undefined &&
    decisionDatabases.length === 0
  ) {
    throw new UsageError(
      `--protocol ${protocol} needs --decision-log NAME or --decision-databases.`,
    )
  }
  const concurrency = concurrencyOf(values)
  return {
    databases,
    ...(values['fence-table'] !== undefined && { fenceTable: values['fence-table'] }),
    ...(decisionLog && {
      decisionLog:
        values.table === undefined ? decisionLog : { database: decisionLog, table: values.table },
    }),
    ...(decisionDatabases.length > 0 && { decisionDatabases }),
    ...(values.prefix !== undefined && { prefix: values.prefix }),
    ...(protocol !== undefined && { protocol: protocol as RecoverOptions['protocol'] & string }),
    ...(values['min-age'] !== undefined && {
      minAge: parseDuration(values['min-age'], '--min-age'),
    }),
    ...(concurrency !== undefined && { concurrency }),
    dryRun: values['dry-run'] === true,
  }
}
