import type { DriverConnection } from '../driver/driver-connection.js'

/** Which server a MySQL-protocol database turned out to be. */
export type MysqlFlavour = 'mysql' | 'mariadb'

/** Asks a session's server whether it is MySQL or MariaDB (`SELECT VERSION()`). */
export async function queryFlavour(connection: DriverConnection): Promise<MysqlFlavour> {
  const { rows } = await connection.query<{ version: string }>('SELECT VERSION() AS version')
  return /mariadb/i.test(String(rows[0]?.version ?? '')) ? 'mariadb' : 'mysql'
}
