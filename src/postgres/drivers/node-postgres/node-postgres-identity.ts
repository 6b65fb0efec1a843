import {
  type ConnectionTarget,
  connectionIdentity,
  type PoolIdentity,
  poolObjectIdentity,
  targetFromUrl,
} from '../../../driver/connection-identity.js'
import type { PgClientLike } from './node-postgres-connection.js'

/** The part of a node-postgres `Pool` txkit uses. */
export interface PgPoolLike<Client extends PgClientLike = PgClientLike> {
  connect(): Promise<Client>
  readonly options?: ConnectionTarget & { connectionString?: string | undefined }
}

/** Where a node-postgres pool's connections go: its settings, then libpq's environment. */
export const nodePostgresIdentity: PoolIdentity<PgPoolLike> = (pool) => {
  const options = pool.options
  if (options === undefined) return poolObjectIdentity('postgres', pool)
  const fromUrl = options.connectionString ? targetFromUrl(options.connectionString) : {}
  return connectionIdentity('postgres', {
    host: options.host ?? fromUrl.host ?? process.env.PGHOST,
    port: options.port ?? fromUrl.port ?? process.env.PGPORT ?? 5432,
    database: options.database ?? fromUrl.database ?? process.env.PGDATABASE,
    user: options.user ?? fromUrl.user ?? process.env.PGUSER,
  })
}
