import type pg from 'pg'

/**
 * Leaves one transaction in doubt per id in `gtrids`, as a crashed coordinator would: on `pool`'s
 * database, a prepared branch (index 1 of a two-database transaction) that inserted the id into
 * `marks`, one after another on one session.
 */
export async function prepareBacklog(pool: pg.Pool, gtrids: readonly string[]): Promise<void> {
  const client = await pool.connect()
  try {
    for (const gtrid of gtrids) {
      await client.query('BEGIN')
      await client.query('INSERT INTO marks (tx) VALUES ($1)', [gtrid])
      await client.query(`PREPARE TRANSACTION '${gtrid}.2.1'`)
    }
  } finally {
    client.release()
  }
}
