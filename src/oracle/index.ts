export { oracleLockDialect } from '../dialect/oracle-lock-dialect.js'
export {
  type OracleConnectionLike,
  type OracleConstants,
  type OraclePoolLike,
  oracleLockSource,
} from './oracle-lock-source.js'
