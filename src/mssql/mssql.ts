export { mssqlLockDialect } from './mssql-lock-dialect.js'
export {
  type MssqlPoolLike,
  type MssqlRequestLike,
  type MssqlTransactionLike,
  mssqlLockSource,
} from './mssql-lock-source.js'
