import {
  type OperationSettings,
  plainTransactionEnd,
  type RunnerDialect,
  type SavepointExit,
} from '../dialect/runner-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'

/** Milliseconds as a PostgreSQL duration: whole milliseconds, rounded up, never 0 (0 = no limit). */
function pgMilliseconds(ms: number): string {
  return `${Math.max(1, Math.ceil(ms))}ms`
}

const SETTINGS = [
  ['lockTimeout', 'lock_timeout'],
  ['statementTimeout', 'statement_timeout'],
] as const

/** A server-given setting value as a literal (it is short text such as `0` or `5s`). */
function literal(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

function wanted(settings: OperationSettings): Array<[name: string, value: string]> {
  const changes: Array<[string, string]> = []
  for (const [option, name] of SETTINGS) {
    const ms = settings[option]
    if (ms !== undefined) changes.push([name, pgMilliseconds(ms)])
  }
  return changes
}

/**
 * PostgreSQL. The runner's own transaction carries its settings as `SET LOCAL` in the message that
 * opens it, so they end with it. Inside the caller's transaction a savepoint takes the settings,
 * the values they replace are read in the same statement, and they are put back in the message
 * that releases it: two round trips in all, whatever the settings. A read-only operation ends by
 * rolling back to its savepoint, which also undoes `transaction_read_only` (it wrote nothing).
 */
export const postgresRunnerDialect: RunnerDialect = {
  name: 'PostgreSQL',

  refuse() {
    return undefined
  },

  async begin(connection, settings) {
    const statements = [settings.readOnly ? 'BEGIN READ ONLY' : 'BEGIN']
    for (const [name, value] of wanted(settings)) statements.push(`SET LOCAL ${name} = '${value}'`)
    await connection.query(statements.join('; '))
    return async () => undefined
  },

  ...plainTransactionEnd,

  async enter(connection, name, settings) {
    const changes = wanted(settings)
    if (settings.readOnly) changes.push(['transaction_read_only', 'on'])
    if (changes.length === 0) {
      await connection.query(`SAVEPOINT ${name}`)
      return exits(connection, name, [])
    }
    const reads = changes.map(([setting]) => `current_setting('${setting}') AS ${setting}`)
    const writes = changes.map(([setting, value]) => `set_config('${setting}', '${value}', true)`)
    // The target list is evaluated in order: the old values are read before they are replaced.
    const { rows } = await connection.query<Record<string, string>>(
      `SAVEPOINT ${name}; SELECT ${[...reads, ...writes].join(', ')}`,
    )
    const previous = rows[0] ?? {}
    if (settings.readOnly) return exits(connection, name, undefined)
    const restores = changes.map(
      ([setting]) => `set_config('${setting}', ${literal(previous[setting] ?? '0')}, true)`,
    )
    return exits(connection, name, [`SELECT ${restores.join(', ')}`])
  },
}

/** `restore` undefined: leave by rolling back even on success (a read-only operation). */
function exits(
  connection: DriverConnection,
  name: string,
  restore: string[] | undefined,
): SavepointExit {
  const rollback = `ROLLBACK TO SAVEPOINT ${name}; RELEASE SAVEPOINT ${name}`
  return {
    async release() {
      await connection.query(
        restore === undefined ? rollback : [...restore, `RELEASE SAVEPOINT ${name}`].join('; '),
      )
    },
    async rollback() {
      await connection.query(rollback)
    },
  }
}
