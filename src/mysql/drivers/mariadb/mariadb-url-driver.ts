import { loadDriverPackage, type UrlDriver } from '../../../database/url-driver.js'
import { mariadbDatabase } from './mariadb-database.js'

/**
 * Opens `mysql://` and `mariadb://` URLs with the `mariadb` connector, for the manager's
 * `tx.connect` (`urlDrivers` option) and the CLI.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 * import { mariadbUrls } from 'txkit/mariadb'
 *
 * const manager = createTransactionManager({ decisionLog: ledger, urlDrivers: [mariadbUrls] })
 * ```
 */
export const mariadbUrls: UrlDriver = {
  packageName: 'mariadb',
  schemes: ['mysql', 'mariadb'],
  async open(name, url, options) {
    const mariadb = await loadDriverPackage<typeof import('mariadb')>('mariadb', 'mariadb')
    const parsed = new URL(url)
    parsed.protocol = 'mariadb:'
    const pool = mariadb.createPool(
      `${parsed.toString()}${parsed.search ? '&' : '?'}connectionLimit=${options.max ?? 8}&minimumIdle=1${
        options.connectTimeoutMs === undefined ? '' : `&connectTimeout=${options.connectTimeoutMs}`
      }`,
    )
    try {
      const queryTimeout = options.statementTimeoutMs
      const database = await mariadbDatabase(pool, {
        name,
        ...(queryTimeout !== undefined && { queryTimeout }),
      })
      return { database, close: () => pool.end() }
    } catch (error) {
      await pool.end().catch(() => undefined)
      throw error
    }
  },
}
