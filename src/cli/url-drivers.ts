import type { UrlDriver } from '../database/url-driver.js'
import { mariadbUrls } from '../mysql/mariadb.js'
import { mysql2Urls } from '../mysql/mysql2.js'
import { nodePostgresUrls } from '../postgres/node-postgres.js'
import { postgresJsUrls } from '../postgres/postgres-js.js'

/** The drivers the CLI opens `--db` URLs with, in order of preference for each scheme:
 * the first whose package is installed opens it. */
export const CLI_URL_DRIVERS: readonly UrlDriver[] = [
  nodePostgresUrls,
  postgresJsUrls,
  mysql2Urls,
  mariadbUrls,
]
