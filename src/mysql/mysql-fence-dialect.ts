import type { FenceClaim, FenceDialect, FenceKey } from '../dialect/fence-dialect.js'
import { quoteTableName, type TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { ER_DUP_ENTRY, ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, errno } from './mysql-error-codes.js'
import { withLockWait } from './mysql-lock-wait.js'
import { xaXid } from './mysql-xid.js'

/**
 * Deletions of fence rows wait at most a second for a row lock: what they cannot delete now is
 * deleted later, and a long wait would hold locks that stop branches from beginning.
 */
const DELETION_LOCK_WAIT_MS = 1000

/** A fence row as others see it: claimed by recovery, its branch's (committed), or none. */
async function readFence(
  connection: DriverConnection,
  table: TableName,
  key: FenceKey,
): Promise<'claimed' | 'committed' | undefined> {
  const { rows } = await connection.query<{ claimed: number | boolean }>(
    `SELECT claimed FROM ${quoteTableName(table, '`')} WHERE gtrid = ? AND branch = ?`,
    [key.gtrid, key.index],
  )
  const row = rows[0]
  return row === undefined ? undefined : Number(row.claimed) === 1 ? 'claimed' : 'committed'
}

/**
 * MySQL and MariaDB fence rows (parallel protocol). Without multi-statement messages the fence
 * row costs a round trip after XA START.
 */
export const mysqlFenceDialect: FenceDialect = {
  async begin(connection, xid, table, key) {
    await connection.query(`XA START ${xaXid(xid)}`)
    await connection.query(
      `INSERT INTO ${quoteTableName(table, '`')} (gtrid, branch) VALUES (?, ?)`,
      [key.gtrid, key.index],
    )
  },

  async createTable(connection, table) {
    for (const statement of this.tableSql(table)) await connection.query(statement)
  },

  tableSql(table) {
    return [
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '`')} (
  gtrid varchar(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  branch smallint NOT NULL,
  claimed boolean NOT NULL DEFAULT false,
  created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (gtrid, branch)
) ENGINE=InnoDB COMMENT='txkit fences'`,
    ]
  },

  async claim(connection, table, key, lockTimeoutMs): Promise<FenceClaim> {
    const name = quoteTableName(table, '`')
    const inserted = await withLockWait(connection, lockTimeoutMs, async () => {
      try {
        // A live branch's uncommitted fence row makes this insert wait (autocommit: committed).
        await connection.query(`INSERT INTO ${name} (gtrid, branch, claimed) VALUES (?, ?, true)`, [
          key.gtrid,
          key.index,
        ])
        return 'claimed'
      } catch (error) {
        const number = errno(error)
        if (number === ER_LOCK_WAIT_TIMEOUT || number === ER_LOCK_DEADLOCK) return 'busy'
        if (number !== ER_DUP_ENTRY) throw error
        return undefined
      }
    })
    if (inserted !== undefined) return inserted
    return (await readFence(connection, table, key)) ?? 'gone'
  },

  async showsCommitted(connection, table, key) {
    return (await readFence(connection, table, key)) === 'committed'
  },

  async delete(connection, table, keys) {
    if (keys.length === 0) return
    await withLockWait(connection, DELETION_LOCK_WAIT_MS, () =>
      connection.query(
        `DELETE FROM ${quoteTableName(table, '`')} WHERE ${keys.map(() => '(gtrid = ? AND branch = ?)').join(' OR ')}`,
        keys.flatMap((key) => [key.gtrid, key.index]),
      ),
    )
  },

  async deleteOlderThan(connection, table, olderThanMs, limit) {
    const { rows } = await connection.query<{ found: number }>(
      `SELECT COUNT(*) AS found FROM information_schema.TABLES
       WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`,
      [table.schema ?? null, table.name],
    )
    if (Number(rows[0]?.found) === 0) return 0
    // A plain read takes no locks; deleting by key then locks only those (committed) rows. A
    // DELETE … WHERE created_at < … would lock every row it scans and wait for the uncommitted
    // fence rows of live branches (a crashed coordinator's prepared branch holds its row until
    // recovery finishes it), stopping every branch's BEGIN on this database meanwhile.
    const { rows: old } = await connection.query<{ gtrid: string; branch: number }>(
      `SELECT gtrid, branch FROM ${quoteTableName(table, '`')}
       WHERE created_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?`,
      [Math.round(olderThanMs * 1000), limit],
    )
    if (old.length === 0) return 0
    await this.delete(
      connection,
      table,
      old.map((row) => ({ gtrid: row.gtrid, index: Number(row.branch) })),
    )
    return old.length
  },
}
