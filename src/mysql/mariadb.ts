export type {
  MariadbConnectionLike,
  MariadbPoolLike,
} from './drivers/mariadb/mariadb-connection.js'
export {
  type MariadbDatabase,
  type MariadbDatabaseOptions,
  mariadbDatabase,
} from './drivers/mariadb/mariadb-database.js'
export { mariadbSession } from './drivers/mariadb/mariadb-session.js'
export { mariadbUrls } from './drivers/mariadb/mariadb-url-driver.js'
export { mysqlDialect } from './mysql-dialect.js'
export type { MysqlFlavour } from './mysql-flavour.js'
