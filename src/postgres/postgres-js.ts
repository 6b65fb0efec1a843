export { postgresDialect } from './postgres-dialect.js'
export {
  type PostgresJsDatabaseOptions,
  type PostgresJsReservedLike,
  type PostgresJsSqlLike,
  postgresJsDatabase,
  postgresJsSession,
  postgresJsUrls,
} from './postgres-js-database.js'
