export {
  type MysqlConnectionLike,
  type MysqlDatabase,
  type MysqlDatabaseOptions,
  type MysqlFlavour,
  type MysqlPoolLike,
  mysqlDatabase,
} from './mysql-database.js'
