import type { LockSource } from '../dialect/lock-source.js'
import { poolObjectIdentity } from '../driver/connection-identity.js'
import { type DriverConnection, OUT_NUMBER, type QueryResult } from '../driver/driver-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { oracleLockDialect } from './oracle-lock-dialect.js'

/** The part of an oracledb `Connection` txkit uses. */
export interface OracleConnectionLike {
  execute(
    sql: string,
    binds: unknown[],
    options: { outFormat: unknown; autoCommit: boolean },
  ): Promise<{ rows?: unknown[]; outBinds?: unknown; rowsAffected?: number }>
  close(options?: { drop?: boolean }): Promise<void>
  break(): Promise<void>
}

/** The part of an oracledb `Pool` txkit uses. */
export interface OraclePoolLike {
  getConnection(): Promise<OracleConnectionLike>
  readonly connectString?: string
  readonly user?: string
}

/** The constants of the `oracledb` module txkit binds with (pass the module itself). */
export interface OracleConstants {
  readonly BIND_OUT: unknown
  readonly NUMBER: unknown
  readonly OUT_FORMAT_OBJECT: unknown
}

class OracleSession implements DriverConnection<OracleConnectionLike> {
  readonly raw: OracleConnectionLike
  readonly lost = false
  readonly #constants: OracleConstants

  constructor(connection: OracleConnectionLike, constants: OracleConstants) {
    this.raw = connection
    this.#constants = constants
  }

  async query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
    const binds = params.map((value) =>
      value === OUT_NUMBER
        ? { dir: this.#constants.BIND_OUT, type: this.#constants.NUMBER }
        : value,
    )
    const result = await this.raw.execute(sql, binds, {
      outFormat: this.#constants.OUT_FORMAT_OBJECT,
      autoCommit: false,
    })
    if (params.includes(OUT_NUMBER)) {
      const outBinds = Array.isArray(result.outBinds) ? result.outBinds : []
      return { rows: [{ result: outBinds[0] }] as Row[], affectedRows: 0 }
    }
    return { rows: (result.rows ?? []) as Row[], affectedRows: result.rowsAffected ?? 0 }
  }

  cancel(): Promise<void> {
    return this.raw.break()
  }

  release(destroy: boolean): void {
    this.raw.close({ drop: destroy }).catch(() => undefined)
  }
}

/**
 * Lets txkit take Oracle user locks (DBMS_LOCK) through an oracledb pool. Pass the `oracledb`
 * module too: txkit binds with its constants and never imports it. Not tested against a live
 * Oracle here: the SQL it sends is tested against recorded expectations. No fencing tokens, no
 * lost-lock events; waits are in whole seconds.
 *
 * @example
 * ```ts
 * import oracledb from 'oracledb'
 * import { withLock } from 'txkit'
 * import { oracleLockSource } from 'txkit/oracle'
 *
 * const locks = oracleLockSource(await oracledb.createPool({ user, password, connectString }), oracledb)
 * await withLock(locks, 'settlement', () => settle(), { mode: 'exclusive', timeout: 10_000 })
 * ```
 */
export function oracleLockSource(pool: OraclePoolLike, oracledb: OracleConstants): LockSource {
  if (pool === null || typeof pool !== 'object' || typeof pool.getConnection !== 'function') {
    throw new ConfigurationError(
      'oracleLockSource() needs an oracledb pool (oracledb.createPool(...)): the value given has no getConnection() method.',
    )
  }
  if (oracledb?.BIND_OUT === undefined || oracledb.OUT_FORMAT_OBJECT === undefined) {
    throw new ConfigurationError(
      "oracleLockSource(pool, oracledb) needs the oracledb module as its second argument (import oracledb from 'oracledb').",
    )
  }
  return {
    identity:
      pool.connectString === undefined
        ? poolObjectIdentity('oracle', pool)
        : `oracle://${pool.user === undefined ? '' : `${encodeURIComponent(pool.user)}@`}${pool.connectString}`,
    lockDialect: oracleLockDialect,
    async acquire() {
      return new OracleSession(await pool.getConnection(), oracledb)
    },
  }
}
