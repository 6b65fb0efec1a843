export {
  type MariadbConnectionLike,
  type MariadbDatabase,
  type MariadbDatabaseOptions,
  type MariadbPoolLike,
  mariadbDatabase,
  mariadbSession,
  mariadbUrls,
} from './mariadb-database.js'
export { mysqlDialect } from './mysql-dialect.js'
export type { MysqlFlavour } from './mysql-flavour.js'
