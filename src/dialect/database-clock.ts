import type { DriverConnection } from '../driver/driver-connection.js'

/** The database's own clock and signals: deadlines and ages are judged by the server's time. */
export interface DatabaseClock {
  /** The database's clock, ms since the epoch. */
  now(connection: DriverConnection): Promise<number>
  /** Sends a notification outside any transaction (PostgreSQL NOTIFY); absent where none exists. */
  notify?(connection: DriverConnection, channel: string, payload: string): Promise<void>
}
