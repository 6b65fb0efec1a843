import type { LockDialect, LockGrant, LockRequest } from '../dialect/lock-dialect.js'
import { registerLockDialect } from '../dialect/lock-source.js'
import { quoteTableName, type TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { LOCK_NOT_AVAILABLE, sqlState, UNDEFINED_TABLE } from './postgres-error-codes.js'

const QUERY_CANCELED = '57014'
const WAIT_SAVEPOINT = 'txkit_lock_wait'

function lockFunction(request: LockRequest, attempt: 'try' | 'wait' | 'unlock'): string {
  const scope = request.scope === 'transaction' ? '_xact' : ''
  const shared = request.mode === 'shared' ? '_shared' : ''
  if (attempt === 'unlock') return `pg_advisory_unlock${shared}`
  return `pg_${attempt === 'try' ? 'try_' : ''}advisory${scope}_lock${shared}`
}

/**
 * `nextval` of the fencing sequence, named by a checked identifier in a literal so that a missing
 * sequence fails when the statement is parsed, before any lock is taken.
 */
function nextToken(fencing: TableName): string {
  return `nextval('${quoteTableName(fencing, '"')}')::text`
}

function grant(row: { acquired?: boolean; token?: string | null } | undefined): LockGrant {
  const acquired = row?.acquired === true
  return acquired && typeof row?.token === 'string'
    ? { acquired, fencingToken: BigInt(row.token) }
    : { acquired }
}

/**
 * PostgreSQL advisory locks: session or transaction scope, shared or exclusive, on a 64-bit key.
 * A bounded wait is the blocking function under `lock_timeout`, set with `set_config(…, true)` so it
 * ends with the statement's own transaction. The lock is taken in a sub-select, so the fencing
 * token's `nextval` runs only once the lock is held (a volatile sub-select is never flattened).
 */
export const postgresLockDialect: LockDialect = {
  displayName: 'PostgreSQL',
  keySpace: { kind: 'int64' },
  modes: ['exclusive', 'shared'],
  scopes: ['session', 'transaction'],
  transactionScope: 'native',
  ping: 'SELECT 1',
  waitResolutionMs: 1,
  transaction: { begin: 'BEGIN', commit: 'COMMIT', rollback: 'ROLLBACK' },

  async acquire(connection, request, wait, fencing, inTransaction) {
    const id = request.id.toString()
    const token = fencing === undefined ? '' : `, ${nextToken(fencing)} AS token`
    if (wait === 0) {
      const sql =
        fencing === undefined
          ? `SELECT ${lockFunction(request, 'try')}($1::bigint) AS acquired`
          : `SELECT acquired, CASE WHEN acquired THEN ${nextToken(fencing)} END AS token FROM (SELECT ${lockFunction(request, 'try')}($1::bigint) AS acquired) AS attempt`
      const { rows } = await connection.query<{ acquired: boolean; token?: string | null }>(sql, [
        id,
      ])
      return grant(rows[0])
    }
    const take = `${lockFunction(request, 'wait')}($1::bigint)`
    if (wait === null && !inTransaction) {
      if (fencing === undefined) {
        await connection.query(`SELECT ${take}`, [id])
        return { acquired: true }
      }
      const { rows } = await connection.query<{ acquired: boolean; token?: string }>(
        `SELECT true AS acquired${token} FROM (SELECT ${take}) AS held`,
        [id],
      )
      return grant(rows[0])
    }
    const timeout = wait === null ? '0' : `${Math.max(1, Math.ceil(wait))}ms`
    if (!inTransaction) {
      try {
        const { rows } = await connection.query<{ acquired: boolean; token?: string }>(
          `SELECT true AS acquired${token} FROM (SELECT ${take} FROM (SELECT set_config('lock_timeout', $2, true)) AS bound) AS held`,
          [id, timeout],
        )
        return grant(rows[0])
      } catch (error) {
        if (sqlState(error) === LOCK_NOT_AVAILABLE) return { acquired: false }
        throw error
      }
    }
    return acquireInTransaction(connection, take, token, id, timeout)
  },

  async release(connection, request) {
    const { rows } = await connection.query<{ released: boolean }>(
      `SELECT ${lockFunction(request, 'unlock')}($1::bigint) AS released`,
      [request.id.toString()],
    )
    return rows[0]?.released === true
  },

  async createFencing(connection, fencing) {
    await connection.query(`CREATE SEQUENCE IF NOT EXISTS ${quoteTableName(fencing, '"')}`)
  },

  isMissingFencing(error) {
    return sqlState(error) === UNDEFINED_TABLE
  },

  isCancelled(error) {
    return sqlState(error) === QUERY_CANCELED
  },
}

/**
 * Inside a transaction a failed wait (timeout, cancel) would abort the whole transaction, and a
 * local `lock_timeout` would outlive the wait: the wait runs in a savepoint, and the setting it
 * found is put back.
 */
async function acquireInTransaction(
  connection: DriverConnection,
  take: string,
  token: string,
  id: string,
  timeout: string,
): Promise<LockGrant> {
  await connection.query(`SAVEPOINT ${WAIT_SAVEPOINT}`)
  let rows: { acquired: boolean; previous: string; token?: string }[]
  try {
    ;({ rows } = await connection.query(
      `SELECT true AS acquired, previous${token} FROM (SELECT previous, ${take} FROM (SELECT previous, set_config('lock_timeout', $2, true) FROM (SELECT current_setting('lock_timeout') AS previous) AS saved) AS bound) AS held`,
      [id, timeout],
    ))
  } catch (error) {
    await connection.query(
      `ROLLBACK TO SAVEPOINT ${WAIT_SAVEPOINT}; RELEASE SAVEPOINT ${WAIT_SAVEPOINT}`,
    )
    if (sqlState(error) === LOCK_NOT_AVAILABLE) return { acquired: false }
    throw error
  }
  await connection.query("SELECT set_config('lock_timeout', $1, true)", [rows[0]?.previous])
  await connection.query(`RELEASE SAVEPOINT ${WAIT_SAVEPOINT}`)
  return grant(rows[0])
}

// Known to lock/'s messages, with how a pool of this database's drivers becomes a lock source.
registerLockDialect(postgresLockDialect, [
  'pgDatabase(pool, { name }) from "txkit/node-postgres"',
  'postgresJsDatabase(sql, { name }) from "txkit/postgres-js"',
])
