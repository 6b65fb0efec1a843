import { loadDriverPackage, type UrlDriver } from '../../../database/url-driver.js'
import { mysqlDatabase } from './mysql2-database.js'

/**
 * Opens `mysql://` and `mariadb://` URLs with mysql2, for the manager's `tx.connect` (`urlDrivers`
 * option) and the CLI.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 * import { mysql2Urls } from 'txkit/mysql2'
 *
 * const manager = createTransactionManager({ decisionLog: ledger, urlDrivers: [mysql2Urls] })
 * ```
 */
export const mysql2Urls: UrlDriver = {
  packageName: 'mysql2',
  schemes: ['mysql', 'mariadb'],
  async open(name, url, options) {
    const mysql = await loadDriverPackage<typeof import('mysql2/promise')>(
      'mysql2/promise',
      'mysql',
    )
    const parsed = new URL(url)
    parsed.protocol = 'mysql:'
    const pool = mysql.createPool({
      uri: parsed.toString(),
      connectionLimit: options.max ?? 8,
      ...(options.connectTimeoutMs !== undefined && { connectTimeout: options.connectTimeoutMs }),
    })
    const queryTimeout = options.statementTimeoutMs
    return {
      database: mysqlDatabase(pool, { name, ...(queryTimeout !== undefined && { queryTimeout }) }),
      close: () => pool.end(),
    }
  },
}
