export {
  type PgClientLike,
  type PgDatabaseOptions,
  type PgPoolLike,
  pgDatabase,
} from './pg-database.js'
