import { loadDriverPackage, type UrlDriver } from '../../../database/url-driver.js'
import { postgresJsDatabase } from './postgres-js-database.js'
import type { PostgresJsSqlLike } from './postgres-js-identity.js'

/** The part of postgres.js's default export `postgresJsUrls` uses: the same in 3.4 and 4. */
type PostgresJsFactory = (
  url: string,
  options: {
    max: number
    onnotice: () => void
    connect_timeout?: number
    connection?: { statement_timeout: number }
  },
) => PostgresJsSqlLike & { end(options: { timeout: number }): Promise<void> }

/**
 * Opens `postgres://` and `postgresql://` URLs with postgres.js, for the manager's `tx.connect`
 * (`urlDrivers` option) and the CLI.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 * import { postgresJsUrls } from 'txkit/postgres-js'
 *
 * const manager = createTransactionManager({ decisionLog: orders, urlDrivers: [postgresJsUrls] })
 * ```
 */
export const postgresJsUrls: UrlDriver = {
  packageName: 'postgres',
  schemes: ['postgres', 'postgresql'],
  async open(name, url, options) {
    const postgres = await loadDriverPackage<PostgresJsFactory>('postgres', 'postgres')
    const statement = options.statementTimeoutMs
    const sql = postgres(url, {
      max: options.max ?? 8,
      onnotice: () => {},
      ...(options.connectTimeoutMs !== undefined && {
        connect_timeout: Math.max(1, Math.ceil(options.connectTimeoutMs / 1000)),
      }),
      ...(statement !== undefined && {
        connection: { statement_timeout: statement },
      }),
    })
    return {
      database: postgresJsDatabase(sql, { name }),
      close: () => sql.end({ timeout: 5 }),
    }
  },
}
