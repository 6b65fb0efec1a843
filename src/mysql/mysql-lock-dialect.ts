import type { LockDialect } from '../dialect/lock-dialect.js'
import { registerLockDialect } from '../dialect/lock-source.js'
import { quoteTableName } from '../dialect/table-name.js'
import { ER_NO_SUCH_TABLE, errno } from './mysql-error-codes.js'

const ER_QUERY_INTERRUPTED = 1317
const FOREVER_SECONDS = 1e9

/** GET_LOCK answered NULL: MariaDB's answer when `KILL QUERY` interrupts the wait. */
class LockWaitInterrupted extends Error {
  readonly errno = ER_QUERY_INTERRUPTED
}

/**
 * MySQL/MariaDB named locks (GET_LOCK / RELEASE_LOCK): exclusive, held by the session, names of at
 * most 64 characters, waits in fractions of a second on the server. There is no transaction-scoped
 * named lock: txkit releases a transaction-scoped one itself right after COMMIT or ROLLBACK. Fencing
 * tokens come from an AUTO_INCREMENT column, which a rollback never gives back.
 */
export const mysqlLockDialect: LockDialect = {
  displayName: 'MySQL/MariaDB',
  keySpace: { kind: 'name', maxLength: 64 },
  modes: ['exclusive'],
  scopes: ['session', 'transaction'],
  transactionScope: 'released-after-end',
  ping: 'SELECT 1',
  waitResolutionMs: 1,
  transaction: { begin: 'START TRANSACTION', commit: 'COMMIT', rollback: 'ROLLBACK' },

  async acquire(connection, request, wait, fencing) {
    // MariaDB refuses a negative timeout (MySQL's "forever"): a billion seconds is forever enough.
    const seconds = wait === null ? FOREVER_SECONDS : wait / 1000
    const { rows } = await connection.query<{ acquired: number | string | null }>(
      'SELECT GET_LOCK(?, ?) AS acquired',
      [request.id, seconds],
    )
    const answer = rows[0]?.acquired
    if (answer === null || answer === undefined) {
      throw new LockWaitInterrupted('GET_LOCK was interrupted (it answered NULL).')
    }
    if (Number(answer) !== 1) return { acquired: false }
    if (fencing === undefined) return { acquired: true }
    try {
      // REPLACE deletes the key's row and inserts a new one: one row per key, a new number each time.
      const { insertId } = await connection.query(
        `REPLACE INTO ${quoteTableName(fencing, '`')} (lock_key) VALUES (?)`,
        [request.id],
      )
      return { acquired: true, fencingToken: BigInt(insertId ?? 0) }
    } catch (error) {
      await connection.query('SELECT RELEASE_LOCK(?)', [request.id])
      throw error
    }
  },

  async release(connection, request) {
    const { rows } = await connection.query<{ released: number | string | null }>(
      'SELECT RELEASE_LOCK(?) AS released',
      [request.id],
    )
    return Number(rows[0]?.released) === 1
  },

  async createFencing(connection, fencing) {
    await connection.query(
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(fencing, '`')} (token BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, lock_key VARCHAR(255) NOT NULL, UNIQUE KEY lock_key (lock_key)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin`,
    )
  },

  isMissingFencing(error) {
    return errno(error) === ER_NO_SUCH_TABLE
  },

  isCancelled(error) {
    return errno(error) === ER_QUERY_INTERRUPTED
  },
}

// Known to lock/'s messages, with how a pool of this database's drivers becomes a lock source.
registerLockDialect(mysqlLockDialect, [
  'mysqlDatabase(pool, { name }) from "txkit/mysql2"',
  'mariadbDatabase(pool, { name }) from "txkit/mariadb"',
])
