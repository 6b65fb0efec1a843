export {
  type SqliteDatabaseLike,
  type SqliteStatementLike,
  sqliteSession,
} from './better-sqlite3-session.js'
