import type { Database } from '../database/database.js'
import type { DecisionLogOptions } from '../records/decision-log.js'
import type { Values } from './cli-options.js'
import type { ConnectedDatabase } from './connect.js'
import { UsageError } from './usage-error.js'

/** The --db that --decision-log names; undefined without --decision-log. */
export function decisionDatabaseOf(
  values: Values,
  connected: readonly ConnectedDatabase[],
): Database | undefined {
  const name = values['decision-log']
  if (name === undefined) return undefined
  const database = connected.find((entry) => entry.database.name === name)?.database
  if (database === undefined) throw new UsageError(`--decision-log ${name} names no --db.`)
  return database
}

/** The --db entries --decision-databases names, with --table if given; empty without it. */
export function decisionDatabasesOption(
  values: Values,
  connected: readonly ConnectedDatabase[],
): DecisionLogOptions[] {
  const list = values['decision-databases']
  if (list === undefined) return []
  const names = list.split(',').map((name) => name.trim())
  if (names.some((name) => name === '')) {
    throw new UsageError(
      '--decision-databases takes the names of --db entries, separated by commas.',
    )
  }
  return names.map((name) => {
    const database = connected.find((entry) => entry.database.name === name)?.database
    if (database === undefined) throw new UsageError(`--decision-databases: ${name} names no --db.`)
    return { database, ...(values.table !== undefined && { table: values.table }) }
  })
}
