import {
  enterSavepoint,
  type OperationSettings,
  plainTransactionEnd,
  type RunnerDialect,
} from '../dialect/runner-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import type { MysqlFlavour } from './mysql-flavour.js'

interface Change {
  readonly variable: string
  readonly value: string
}

/**
 * The session variables for `settings`. `innodb_lock_wait_timeout` takes whole seconds: a bound
 * is rounded up, never down to 0 (which would mean "do not wait"). MariaDB's `max_statement_time`
 * takes fractions of a second; MySQL's `max_execution_time` milliseconds, for SELECT only.
 */
function changes(settings: OperationSettings, flavour: MysqlFlavour): Change[] {
  const result: Change[] = []
  if (settings.lockTimeout !== undefined) {
    const seconds = Math.max(1, Math.ceil(settings.lockTimeout / 1000))
    result.push({ variable: 'innodb_lock_wait_timeout', value: String(seconds) })
  }
  if (settings.statementTimeout !== undefined) {
    result.push(
      flavour === 'mariadb'
        ? {
            variable: 'max_statement_time',
            value: String(Math.max(0.001, settings.statementTimeout / 1000)),
          }
        : {
            variable: 'max_execution_time',
            value: String(Math.max(1, Math.ceil(settings.statementTimeout))),
          },
    )
  }
  return result
}

/**
 * Sets the variables, keeping the old values in user variables named after `tag` (one per nesting
 * level), in one statement; returns what puts them back.
 */
async function apply(
  connection: DriverConnection,
  list: readonly Change[],
  tag: string,
): Promise<() => Promise<void>> {
  if (list.length === 0) return async () => undefined
  const saves = list.map(({ variable }) => `@${tag}_${variable} = @@SESSION.${variable}`)
  const sets = list.map(({ variable, value }) => `SESSION ${variable} = ${value}`)
  await connection.query(`SET ${[...saves, ...sets].join(', ')}`)
  const restore = `SET ${list.map(({ variable }) => `SESSION ${variable} = @${tag}_${variable}`).join(', ')}`
  return async () => {
    await connection.query(restore)
  }
}

/**
 * MySQL 8 and MariaDB. Session variables outlive transactions, so whatever the runner changes it
 * saves and puts back itself. mysql2 sends one statement per round trip. A part of a transaction
 * cannot be made read-only here: `readOnly` is honoured only where the runner opens the transaction
 * (`START TRANSACTION READ ONLY`), and refused inside one.
 */
export function mysqlRunnerDialect(flavour: MysqlFlavour): RunnerDialect {
  return {
    name: flavour === 'mariadb' ? 'MariaDB' : 'MySQL',

    refuse(settings, insideTransaction) {
      if (settings.readOnly && insideTransaction) {
        return `${flavour === 'mariadb' ? 'MariaDB' : 'MySQL'} cannot make part of a transaction read-only: run the operation on a pool (the runner then opens a READ ONLY transaction), or drop readOnly.`
      }
      return undefined
    },

    async begin(connection, settings) {
      const restore = await apply(connection, changes(settings, flavour), 'txkit_run')
      await connection.query(
        settings.readOnly ? 'START TRANSACTION READ ONLY' : 'START TRANSACTION',
      )
      return restore
    },

    ...plainTransactionEnd,

    enter(connection, name, settings) {
      return enterSavepoint(connection, name, () =>
        apply(connection, changes(settings, flavour), name),
      )
    },
  }
}
