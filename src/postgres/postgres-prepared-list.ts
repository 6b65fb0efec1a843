import type { PreparedList, PreparedTransaction } from '../dialect/prepared-list.js'

/** PostgreSQL's prepared transactions (`pg_prepared_xacts`), of the session's database only. */
export const postgresPreparedList: PreparedList = {
  preparedListScope: 'database',

  async listPrepared(connection): Promise<PreparedTransaction[]> {
    const { rows } = await connection.query<{ gid: string; prepared_at: string }>(
      `SELECT gid, (extract(epoch FROM prepared) * 1000)::float8 AS prepared_at
       FROM pg_prepared_xacts WHERE database = current_database()`,
    )
    return rows.map((row) => ({ xid: row.gid, preparedAt: Number(row.prepared_at) }))
  },

  async isPrepared(connection, xid): Promise<boolean> {
    const { rows } = await connection.query(
      'SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()',
      [xid],
    )
    return rows.length > 0
  },
}
