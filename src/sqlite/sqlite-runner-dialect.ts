import {
  enterSavepoint,
  type OperationSettings,
  plainTransactionEnd,
  type RunnerDialect,
} from '../dialect/runner-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
// Registers SQLite's transient error codes with the runner wherever its sessions are used.
import './sqlite-error-codes.js'

/** Sets `busy_timeout` and `query_only` as `settings` ask; returns what puts them back. */
async function apply(
  connection: DriverConnection,
  settings: OperationSettings,
): Promise<() => Promise<void>> {
  const restores: string[] = []
  if (settings.lockTimeout !== undefined) {
    const { rows } = await connection.query<{ timeout: number }>('PRAGMA busy_timeout')
    restores.push(`PRAGMA busy_timeout = ${Number(rows[0]?.timeout ?? 0)}`)
    await connection.query(`PRAGMA busy_timeout = ${Math.max(1, Math.ceil(settings.lockTimeout))}`)
  }
  if (settings.readOnly) {
    const { rows } = await connection.query<{ query_only: number }>('PRAGMA query_only')
    restores.push(`PRAGMA query_only = ${Number(rows[0]?.query_only ?? 0)}`)
    await connection.query('PRAGMA query_only = 1')
  }
  return async () => {
    for (const statement of restores) await connection.query(statement)
  }
}

/**
 * SQLite through better-sqlite3. A lock timeout is the busy timeout (how long to wait for another
 * connection's lock); read-only is `query_only`; both are put back after the operation. SQLite has
 * no statement timeout: asking for one is refused. The runner's own transaction is
 * `BEGIN IMMEDIATE`, which takes the write lock up front (where the busy timeout applies) instead
 * of failing on the first write.
 */
export const sqliteRunnerDialect: RunnerDialect = {
  name: 'SQLite',

  refuse(settings) {
    return settings.statementTimeout === undefined
      ? undefined
      : 'SQLite has no statement timeout: drop statementTimeout for SQLite targets (lockTimeout is its busy timeout).'
  },

  async begin(connection, settings) {
    const restore = await apply(connection, settings)
    try {
      await connection.query(settings.readOnly ? 'BEGIN' : 'BEGIN IMMEDIATE')
    } catch (error) {
      await restore()
      throw error
    }
    return restore
  },

  ...plainTransactionEnd,

  enter(connection, name, settings) {
    return enterSavepoint(connection, name, () => apply(connection, settings))
  },
}
