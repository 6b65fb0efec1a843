export type { PostgresJsReservedLike } from './drivers/postgres-js/postgres-js-connection.js'
export {
  type PostgresJsDatabaseOptions,
  postgresJsDatabase,
} from './drivers/postgres-js/postgres-js-database.js'
export type { PostgresJsSqlLike } from './drivers/postgres-js/postgres-js-identity.js'
export { postgresJsSession } from './drivers/postgres-js/postgres-js-session.js'
export { postgresJsUrls } from './drivers/postgres-js/postgres-js-url-driver.js'
export { postgresDialect } from './postgres-dialect.js'
