export { mysqlDialect } from './mysql-dialect.js'
export type { MysqlFlavour } from './mysql-flavour.js'
export {
  type MysqlConnectionLike,
  type MysqlDatabase,
  type MysqlDatabaseOptions,
  type MysqlPoolLike,
  mysql2Urls,
  mysqlDatabase,
  mysqlSession,
} from './mysql2-database.js'
