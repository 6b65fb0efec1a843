import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'

interface Notification {
  readonly database: Database
  readonly channel: string
  readonly payload: string
}

/**
 * The notifications of one transaction: queued while it runs, sent once it is committed and never
 * if it is not. A prepared transaction cannot send one, so they go after the commit, outside it.
 *
 * @example
 * ```ts
 * const notifications = new TransactionNotifications()
 * notifications.queue(orders, 'orders_changed', '42')
 * await notifications.send(logger, gtrid) // after the commit
 * ```
 */
export class TransactionNotifications {
  readonly #queued: Notification[] = []

  /** @throws ConfigurationError for a database without notifications, or a bad channel name. */
  queue(database: Database, channel: string, payload: string): void {
    if (database.dialect.notify === undefined) {
      throw new ConfigurationError(
        `Database "${database.name}" (${database.dialect.displayName}) has no NOTIFY; notify through a database that has notifications.`,
      )
    }
    if (typeof channel !== 'string' || channel.length === 0 || channel.length > 63) {
      throw new ConfigurationError('A notification channel is a name of 1 to 63 characters.')
    }
    this.#queued.push({ database, channel, payload: String(payload) })
  }

  /** Sends them in order; one that fails is logged, and the others still go. */
  async send(logger: Logger, gtrid: string | undefined): Promise<void> {
    for (const { database, channel, payload } of this.#queued) {
      try {
        await withConnection(database, async (connection) =>
          database.dialect.notify?.(connection, channel, payload),
        )
      } catch (error) {
        logger.error(
          { gtrid, database: database.name, channel, error: errorMessage(error) },
          'txkit: a notification could not be sent after the commit',
        )
      }
    }
  }
}
