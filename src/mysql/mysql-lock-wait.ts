import type { DriverConnection } from '../driver/driver-connection.js'

/**
 * Runs `work` with InnoDB's row-lock waits ending after `lockTimeoutMs` (`ER_LOCK_WAIT_TIMEOUT`),
 * then gives the session the server's setting back for the pool's next user.
 * `innodb_lock_wait_timeout` counts whole seconds: the wait is rounded up, to one at least.
 */
export async function withLockWait<Result>(
  connection: DriverConnection,
  lockTimeoutMs: number,
  work: () => Promise<Result>,
): Promise<Result> {
  await connection.query(
    `SET SESSION innodb_lock_wait_timeout = ${Math.max(1, Math.ceil(lockTimeoutMs / 1000))}`,
  )
  try {
    return await work()
  } finally {
    await connection.query(
      'SET SESSION innodb_lock_wait_timeout = @@GLOBAL.innodb_lock_wait_timeout',
    )
  }
}
