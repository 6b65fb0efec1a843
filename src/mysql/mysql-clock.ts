import type { DatabaseClock } from '../dialect/database-clock.js'

/** MySQL's and MariaDB's clock, to the microsecond; they have no notifications. */
export const mysqlClock: DatabaseClock = {
  async now(connection) {
    const { rows } = await connection.query<{ now: string }>(
      'SELECT UNIX_TIMESTAMP(NOW(6)) * 1000 AS now',
    )
    return Number(rows[0]?.now)
  },
}
