export type {
  MysqlConnectionLike,
  MysqlPoolLike,
} from './drivers/mysql2/mysql2-connection.js'
export {
  type MysqlDatabase,
  type MysqlDatabaseOptions,
  mysqlDatabase,
} from './drivers/mysql2/mysql2-database.js'
export { mysqlSession } from './drivers/mysql2/mysql2-session.js'
export { mysql2Urls } from './drivers/mysql2/mysql2-url-driver.js'
export { mysqlDialect } from './mysql-dialect.js'
export type { MysqlFlavour } from './mysql-flavour.js'
