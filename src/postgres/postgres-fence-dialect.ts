import type { FenceClaim, FenceDialect, FenceKey } from '../dialect/fence-dialect.js'
import { quoteTableName, type TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { markBranch, noteOwnTags } from './postgres-branch-session.js'
import { LOCK_NOT_AVAILABLE, sqlState } from './postgres-error-codes.js'
import { withLockTimeout } from './postgres-lock-wait.js'
import { fenceIndex, ownLiteral } from './postgres-xid.js'

/** A fence row as others see it: claimed by recovery, its branch's (committed), or none. */
async function readFence(
  connection: DriverConnection,
  table: TableName,
  key: FenceKey,
): Promise<'claimed' | 'committed' | undefined> {
  const { rows } = await connection.query<{ claimed: boolean }>(
    `SELECT claimed FROM ${quoteTableName(table, '"')} WHERE gtrid = $1 AND branch = $2`,
    [key.gtrid, fenceIndex(key)],
  )
  const row = rows[0]
  return row === undefined ? undefined : row.claimed ? 'claimed' : 'committed'
}

/**
 * PostgreSQL's fence rows (parallel protocol). The fence row travels with the branch's BEGIN in
 * one simple-query message: no round trip more than a plain BEGIN.
 */
export const postgresFenceDialect: FenceDialect = {
  async begin(connection, xid, table, key) {
    await connection.query(
      `BEGIN${markBranch(xid)}; INSERT INTO ${quoteTableName(table, '"')} (gtrid, branch) VALUES (${ownLiteral(key.gtrid)}, ${fenceIndex(key)})`,
    )
    noteOwnTags(connection)
  },

  async createTable(connection, table) {
    await connection.query(this.tableSql(table).join(';\n'))
  },

  tableSql(table) {
    return [
      ...(table.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${table.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '"')} (
  gtrid varchar(64) NOT NULL,
  branch smallint NOT NULL,
  claimed boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gtrid, branch)
)`,
    ]
  },

  async claim(connection, table, key, lockTimeoutMs): Promise<FenceClaim> {
    const name = quoteTableName(table, '"')
    try {
      return await withLockTimeout(connection, lockTimeoutMs, async () => {
        // A conflicting insert that is not yet committed (a live branch's) makes this one wait.
        const inserted = await connection.query(
          `INSERT INTO ${name} (gtrid, branch, claimed) VALUES ($1, $2, true) ON CONFLICT DO NOTHING RETURNING 1`,
          [key.gtrid, fenceIndex(key)],
        )
        if (inserted.rows.length === 1) return 'claimed'
        const found = await readFence(connection, table, key)
        return found === undefined ? 'gone' : found
      })
    } catch (error) {
      if (sqlState(error) === LOCK_NOT_AVAILABLE) return 'busy'
      throw error
    }
  },

  async showsCommitted(connection, table, key) {
    return (await readFence(connection, table, key)) === 'committed'
  },

  async delete(connection, table, keys) {
    if (keys.length === 0) return
    await connection.query(
      `DELETE FROM ${quoteTableName(table, '"')} f USING unnest($1::varchar[], $2::smallint[]) AS x(gtrid, branch)
       WHERE f.gtrid = x.gtrid AND f.branch = x.branch`,
      [keys.map((key) => key.gtrid), keys.map((key) => fenceIndex(key))],
    )
  },

  async deleteOlderThan(connection, table, olderThanMs, limit) {
    const name = quoteTableName(table, '"')
    const { rows } = await connection.query<{ found: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS found',
      [name],
    )
    if (rows[0]?.found !== true) return 0
    const deleted = await connection.query(
      `DELETE FROM ${name} WHERE (gtrid, branch) IN (
         SELECT gtrid, branch FROM ${name}
         WHERE created_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000) LIMIT $2::int)`,
      [olderThanMs, limit],
    )
    return deleted.affectedRows ?? 0
  },
}
