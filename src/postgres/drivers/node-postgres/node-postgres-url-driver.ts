import { loadDriverPackage, type UrlDriver } from '../../../database/url-driver.js'
import { pgDatabase } from './node-postgres-database.js'

/**
 * Opens `postgres://` and `postgresql://` URLs with node-postgres, for the manager's `tx.connect`
 * (`urlDrivers` option) and the CLI. Statement timeouts are set on the server and, a second later,
 * on the client.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 * import { nodePostgresUrls } from 'txkit/node-postgres'
 *
 * const manager = createTransactionManager({ decisionLog: orders, urlDrivers: [nodePostgresUrls] })
 * ```
 */
export const nodePostgresUrls: UrlDriver = {
  packageName: 'pg',
  schemes: ['postgres', 'postgresql'],
  async open(name, url, options) {
    const pg = await loadDriverPackage<typeof import('pg')>('pg', 'postgres')
    const statement = options.statementTimeoutMs
    const pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 8,
      ...(options.connectTimeoutMs !== undefined && {
        connectionTimeoutMillis: options.connectTimeoutMs,
      }),
      // The server stops the statement; the client gives up a little later if no answer comes.
      ...(statement !== undefined && {
        statement_timeout: statement,
        query_timeout: statement + 1000,
      }),
    })
    // An idle connection cut by the server must not crash the process.
    pool.on('error', () => {})
    return { database: pgDatabase(pool, { name }), close: () => pool.end() }
  },
}
