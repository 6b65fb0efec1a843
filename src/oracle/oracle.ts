export { oracleLockDialect } from './oracle-lock-dialect.js'
export {
  type OracleConnectionLike,
  type OracleConstants,
  type OraclePoolLike,
  oracleLockSource,
} from './oracle-lock-source.js'
