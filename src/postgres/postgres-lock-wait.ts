import type { DriverConnection } from '../driver/driver-connection.js'

/**
 * Runs `work` in a transaction of its own whose lock waits end after `lockTimeoutMs`
 * (`LOCK_NOT_AVAILABLE`); rolled back if anything fails.
 */
export async function withLockTimeout<Result>(
  connection: DriverConnection,
  lockTimeoutMs: number,
  work: () => Promise<Result>,
): Promise<Result> {
  await connection.query('BEGIN')
  try {
    await connection.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`)
    const result = await work()
    await connection.query('COMMIT')
    return result
  } catch (error) {
    await connection.query('ROLLBACK')
    throw error
  }
}
