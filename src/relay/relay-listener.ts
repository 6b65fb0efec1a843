import type { Database } from '../database/database.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import { sleep } from '../util/sleep.js'

/**
 * A relay's LISTEN on one database: a connection of its pool kept for it, listening on the
 * outbox's channel. A lost connection is replaced, with backoff (1 s doubling to 30 s); meanwhile
 * the relay polls. `onListening(true)` once listening (again): a pass then catches up on what
 * may have been missed.
 *
 * @example
 * ```ts
 * const listener = new OutboxListener(orders, 'txkit_outbox', wake, onListening, logger)
 * listener.start()
 * await listener.close()
 * ```
 */
export class OutboxListener {
  readonly #database: Database
  readonly #channel: string
  readonly #onNotification: () => void
  readonly #onListening: (listening: boolean) => void
  readonly #logger: Logger
  readonly #closed = new AbortController()
  #connection: DriverConnection | undefined
  #stop: (() => Promise<void>) | undefined
  #running: Promise<void> | undefined

  constructor(
    database: Database,
    channel: string,
    onNotification: () => void,
    onListening: (listening: boolean) => void,
    logger: Logger,
  ) {
    this.#database = database
    this.#channel = channel
    this.#onNotification = onNotification
    this.#onListening = onListening
    this.#logger = logger
  }

  /** Starts listening in the background; answers at once. */
  start(): void {
    this.#running = this.#connect()
  }

  async #connect(): Promise<void> {
    for (let retry = 0; !this.#closed.signal.aborted; retry++) {
      if (retry > 0) await sleep(Math.min(30_000, 1000 * 2 ** (retry - 1)), this.#closed.signal)
      if (this.#closed.signal.aborted) return
      let connection: DriverConnection | undefined
      try {
        connection = await this.#database.acquire()
        if (connection.listen === undefined) {
          // This driver hears no notifications: the relay polls.
          connection.release(false)
          return
        }
        const taken = connection
        this.#stop = await connection.listen(this.#channel, () => this.#onNotification())
        this.#connection = connection
        connection.onLost?.(() => {
          if (this.#connection !== taken) return
          this.#connection = undefined
          this.#stop = undefined
          taken.release(true)
          this.#onListening(false)
          this.#logger.warn(
            { database: this.#database.name, channel: this.#channel },
            'txkit relay: the LISTEN connection was lost; polling until it is back',
          )
          if (!this.#closed.signal.aborted) this.#running = this.#connect()
        })
        if (this.#closed.signal.aborted) {
          await this.#release()
          return
        }
        this.#onListening(true)
        return
      } catch (error) {
        connection?.release(true)
        this.#logger.warn(
          { database: this.#database.name, channel: this.#channel, error: errorMessage(error) },
          'txkit relay: could not LISTEN; polling, and trying again',
        )
      }
    }
  }

  async #release(): Promise<void> {
    const connection = this.#connection
    const stop = this.#stop
    this.#connection = undefined
    this.#stop = undefined
    if (connection === undefined) return
    this.#onListening(false)
    try {
      await stop?.()
      connection.release(false)
    } catch {
      connection.release(true)
    }
  }

  /** Stops listening and gives the connection back. */
  async close(): Promise<void> {
    this.#closed.abort()
    await this.#running?.catch(() => undefined)
    await this.#release()
  }
}
