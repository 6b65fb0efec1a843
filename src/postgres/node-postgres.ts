export type { PgClientLike } from './drivers/node-postgres/node-postgres-connection.js'
export {
  type PgClientOf,
  type PgDatabaseOptions,
  pgDatabase,
} from './drivers/node-postgres/node-postgres-database.js'
export type { PgPoolLike } from './drivers/node-postgres/node-postgres-identity.js'
export { pgSession } from './drivers/node-postgres/node-postgres-session.js'
export { nodePostgresUrls } from './drivers/node-postgres/node-postgres-url-driver.js'
export { postgresDialect } from './postgres-dialect.js'
