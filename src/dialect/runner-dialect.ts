import type { DriverConnection } from '../driver/driver-connection.js'

/** What one operation runs under. Timeouts in milliseconds; undefined leaves the setting alone. */
export interface OperationSettings {
  readonly lockTimeout: number | undefined
  readonly statementTimeout: number | undefined
  readonly readOnly: boolean
}

/** How to leave a savepoint: keep its work, or undo it. Both put the settings back. */
export interface SavepointExit {
  release(): Promise<void>
  rollback(): Promise<void>
}

/**
 * What differs between databases for the runner: opening its own transaction, savepoints inside
 * the caller's, and per-operation settings that must never outlive the operation.
 */
export interface RunnerDialect {
  /** For log records and messages: `PostgreSQL`, `MySQL`, `MariaDB`, `SQLite`. */
  readonly name: string
  /** A ConfigurationError message when `settings` cannot be honoured here; undefined when they can. */
  refuse(settings: OperationSettings, insideTransaction: boolean): string | undefined
  /**
   * Opens the runner's own transaction with `settings` in force. Resolves to what undoes the
   * settings that outlive a transaction (to run after COMMIT or ROLLBACK).
   */
  begin(connection: DriverConnection, settings: OperationSettings): Promise<() => Promise<void>>
  commit(connection: DriverConnection): Promise<void>
  rollback(connection: DriverConnection): Promise<void>
  /** Sets savepoint `name` in the caller's transaction and puts `settings` in force inside it. */
  enter(
    connection: DriverConnection,
    name: string,
    settings: OperationSettings,
  ): Promise<SavepointExit>
}

/** COMMIT and ROLLBACK: every database the runner knows spells them alike. */
export const plainTransactionEnd: Pick<RunnerDialect, 'commit' | 'rollback'> = {
  async commit(connection) {
    await connection.query('COMMIT')
  },
  async rollback(connection) {
    await connection.query('ROLLBACK')
  },
}

/**
 * Sets savepoint `name`, then the settings (`apply` answers what puts them back), for databases
 * that send one statement at a time.
 */
export async function enterSavepoint(
  connection: DriverConnection,
  name: string,
  apply: () => Promise<() => Promise<void>>,
): Promise<SavepointExit> {
  await connection.query(`SAVEPOINT ${name}`)
  return savepointExit(connection, name, await apply())
}

/**
 * Leaving savepoint `name` one statement at a time: `putBack` restores the settings, after the
 * rollback when the work is undone (which, on these databases, does not undo settings).
 */
function savepointExit(
  connection: DriverConnection,
  name: string,
  putBack: () => Promise<void>,
): SavepointExit {
  return {
    async release() {
      await putBack()
      await connection.query(`RELEASE SAVEPOINT ${name}`)
    },
    async rollback() {
      await connection.query(`ROLLBACK TO SAVEPOINT ${name}`)
      await putBack()
      await connection.query(`RELEASE SAVEPOINT ${name}`)
    },
  }
}
