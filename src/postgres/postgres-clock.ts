import type { DatabaseClock } from '../dialect/database-clock.js'

/** PostgreSQL's clock (`clock_timestamp()`, not the transaction's start) and NOTIFY. */
export const postgresClock: DatabaseClock = {
  async notify(connection, channel, payload) {
    // pg_notify takes the channel as a value: no identifier to quote, nothing to inject.
    await connection.query('SELECT pg_notify($1, $2)', [channel, payload])
  },

  async now(connection) {
    const { rows } = await connection.query<{ now: string }>(
      'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now',
    )
    return Number(rows[0]?.now)
  },
}
