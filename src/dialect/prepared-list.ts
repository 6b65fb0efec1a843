import type { DriverConnection } from '../driver/driver-connection.js'

/** A prepared transaction found on a database. */
export interface PreparedTransaction {
  /** The id as txkit writes it; ids of another shape are rendered so that they never parse as ours. */
  readonly xid: string
  /** When it was prepared (ms since the epoch), where the server records it. */
  readonly preparedAt?: number
}

/** The transactions a database holds prepared, as recovery scans them. */
export interface PreparedList {
  /**
   * Whether the list of prepared transactions covers one database (PostgreSQL) or the whole server
   * (MySQL / MariaDB `XA RECOVER`), where finishing works from any database of that server.
   */
  readonly preparedListScope: 'database' | 'server'
  listPrepared(connection: DriverConnection): Promise<PreparedTransaction[]>
  /** Whether `xid` is prepared now, without listing them all (else `listPrepared` is searched). */
  isPrepared?(connection: DriverConnection, xid: string): Promise<boolean>
}
