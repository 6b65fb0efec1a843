import type { DriverConnection } from '../driver/driver-connection.js'
import type { Database } from './database.js'

/**
 * Runs `work` on a connection checked out of `database`, gives it back afterwards, and closes it
 * instead when `work` failed (its session state is then unknown).
 *
 * @example
 * ```ts
 * const now = await withConnection(orders, (connection) => orders.dialect.now(connection))
 * ```
 */
export async function withConnection<Result>(
  database: Pick<Database, 'acquire'>,
  work: (connection: DriverConnection) => Promise<Result>,
): Promise<Result> {
  const connection = await database.acquire()
  try {
    const result = await work(connection)
    connection.release(false)
    return result
  } catch (error) {
    connection.release(true)
    throw error
  }
}
