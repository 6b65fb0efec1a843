import {
  type ConnectionTarget,
  connectionIdentity,
  type PoolIdentity,
  poolObjectIdentity,
} from '../../../driver/connection-identity.js'
import type { MysqlPoolLike } from './mysql2-connection.js'

/** Where mysql2 keeps the connection settings of a promise pool (not part of its typings). */
interface Mysql2PoolInternals {
  readonly pool?: { readonly config?: { readonly connectionConfig?: ConnectionTarget } }
}

/** Where a mysql2 pool's connections go, from the settings mysql2 keeps inside the pool. */
export const mysql2Identity: PoolIdentity<MysqlPoolLike> = (pool) => {
  const config = (pool as Mysql2PoolInternals).pool?.config?.connectionConfig
  if (config === undefined) return poolObjectIdentity('mysql', pool)
  return connectionIdentity('mysql', {
    host: config.host,
    port: config.port ?? 3306,
    database: config.database,
    user: config.user,
  })
}
