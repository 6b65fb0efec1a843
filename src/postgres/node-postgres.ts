export {
  nodePostgresUrls,
  type PgClientLike,
  type PgClientOf,
  type PgDatabaseOptions,
  type PgPoolLike,
  pgDatabase,
  pgSession,
} from './node-postgres-database.js'
export { postgresDialect } from './postgres-dialect.js'
