import { connectionIdentity } from '../../../driver/connection-identity.js'
import type { MariadbPoolLike } from './mariadb-connection.js'

export interface ServerIdentity {
  readonly version: string
  readonly host: string
  readonly port: number | bigint | string
  readonly database: string | null
  readonly user: string
}

/** Asks the server who it is: the connector keeps its pool's settings to itself. */
export async function askServer(pool: MariadbPoolLike): Promise<ServerIdentity> {
  const connection = await pool.getConnection()
  try {
    const rows = (await connection.query(
      'SELECT VERSION() AS version, @@hostname AS host, @@port AS port, DATABASE() AS `database`, CURRENT_USER() AS user',
    )) as ServerIdentity[]
    const row = rows[0]
    if (row === undefined) throw new Error('The server answered no row to SELECT VERSION().')
    return row
  } finally {
    await connection.release()
  }
}

/** Where the connections go, as the server answered {@link askServer}. */
export function mariadbIdentity(server: ServerIdentity): string {
  return connectionIdentity('mysql', {
    host: server.host,
    port: String(server.port),
    database: server.database ?? undefined,
    user: server.user.replace(/@[^@]*$/, ''),
  })
}
