export {
  type SqliteDatabaseLike,
  type SqliteStatementLike,
  sqliteSession,
} from './drivers/better-sqlite3/better-sqlite3-session.js'
