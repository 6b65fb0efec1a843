import type { LockSource } from '../dialect/lock-source.js'
import { connectionIdentity, poolObjectIdentity } from '../driver/connection-identity.js'
import type { DriverConnection, QueryResult } from '../driver/driver-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { mssqlLockDialect } from './mssql-lock-dialect.js'

/** The part of an mssql `Request` txkit uses. */
export interface MssqlRequestLike {
  input(name: string, value: unknown): unknown
  query(sql: string): Promise<{ recordset?: unknown[]; rowsAffected?: number[] }>
  cancel(): void
}

/** The part of an mssql `Transaction` txkit uses: it is how mssql pins one pooled connection. */
export interface MssqlTransactionLike {
  begin(): Promise<unknown>
  commit(): Promise<unknown>
  rollback(): Promise<unknown>
  request(): MssqlRequestLike
}

/** The part of an mssql `ConnectionPool` txkit uses. */
export interface MssqlPoolLike {
  transaction(): MssqlTransactionLike
  readonly config?: {
    readonly server?: string
    readonly port?: number
    readonly database?: string
    readonly user?: string
  }
}

class MssqlSession implements DriverConnection<MssqlTransactionLike> {
  readonly raw: MssqlTransactionLike
  readonly lost = false
  #running: MssqlRequestLike | undefined

  constructor(transaction: MssqlTransactionLike) {
    this.raw = transaction
  }

  async query<Row>(sql: string, params: readonly unknown[] = []): Promise<QueryResult<Row>> {
    const request = this.raw.request()
    params.forEach((value, index) => {
      request.input(`p${index}`, value)
    })
    this.#running = request
    try {
      const result = await request.query(sql)
      return {
        rows: (result.recordset ?? []) as Row[],
        affectedRows: result.rowsAffected?.reduce((sum, count) => sum + count, 0) ?? 0,
      }
    } finally {
      this.#running = undefined
    }
  }

  async cancel(): Promise<void> {
    this.#running?.cancel()
  }

  release(destroy: boolean): void {
    const end = destroy ? this.raw.rollback() : this.raw.commit()
    end.catch(() => undefined)
  }
}

/**
 * Lets txkit take SQL Server application locks (sp_getapplock) through an mssql `ConnectionPool`.
 * mssql cannot check one connection out of its pool, so each lock pins one through an mssql
 * `Transaction` for its whole life (it writes nothing). Not tested against a live SQL Server here:
 * the SQL it sends is tested against recorded expectations. No fencing tokens, no lost-lock events.
 *
 * @example
 * ```ts
 * import sql from 'mssql'
 * import { withLock } from 'txkit'
 * import { mssqlLockSource } from 'txkit/mssql'
 *
 * const locks = mssqlLockSource(await new sql.ConnectionPool(process.env.MSSQL_URL ?? '').connect())
 * await withLock(locks, 'nightly-import', () => runImport(), { timeout: 30_000 })
 * ```
 */
export function mssqlLockSource(pool: MssqlPoolLike): LockSource {
  if (pool === null || typeof pool !== 'object' || typeof pool.transaction !== 'function') {
    throw new ConfigurationError(
      'mssqlLockSource() needs an mssql ConnectionPool (new sql.ConnectionPool(...)): the value given has no transaction() method.',
    )
  }
  const config = pool.config
  return {
    identity:
      config === undefined
        ? poolObjectIdentity('mssql', pool)
        : connectionIdentity('mssql', {
            host: config.server,
            port: config.port ?? 1433,
            database: config.database,
            user: config.user,
          }),
    lockDialect: mssqlLockDialect,
    async acquire() {
      const transaction = pool.transaction()
      await transaction.begin()
      return new MssqlSession(transaction)
    },
  }
}
