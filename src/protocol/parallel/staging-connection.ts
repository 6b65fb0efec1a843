import type { Database } from '../../database/database.js'
import { UnconfirmedAnswer } from '../../dialect/dialect.js'
import type { DriverConnection } from '../../driver/driver-connection.js'

/**
 * The staging connection was lost with a statement on it, or its answer did not confirm it:
 * whether it took effect is unknown.
 */
export class StagingLost {
  constructor(readonly cause: unknown) {}
}

/**
 * The staging connection's session was known gone before anything was sent on it: nothing it was
 * to carry can have taken effect.
 */
export class StagingNotSent {
  constructor(readonly cause: unknown) {}
}

/**
 * The parallel protocol's connection to the decision database, on which a transaction writes its
 * staged row and turns it into 'C' or 'A'. It is taken in the same tick as the transaction's
 * branches (at `begin`, or with an open transaction's first join) and held until then: taken
 * later, while holding the branches, transactions could wait on each other for a pool's last
 * connection forever.
 */
export class StagingConnection {
  readonly #database: Database
  #taking: Promise<DriverConnection | undefined> | undefined
  #released = false

  constructor(database: Database) {
    this.#database = database
  }

  /** Starts taking the connection (once); rejects when it cannot be had. */
  take(): Promise<void> {
    if (this.#taking !== undefined) return this.#taking.then(() => undefined)
    const acquiring = this.#database.acquire().then((connection) => {
      // Before any other event can close it: a close is then heard, never missed (see `watch`).
      connection.watch?.()
      return connection
    })
    this.#taking = acquiring.then(
      (connection) => {
        // The transaction ended before the connection came: nobody will use it.
        if (!this.#released) return connection
        connection.release(false)
        return undefined
      },
      // Taken again when used.
      () => undefined,
    )
    return acquiring.then(() => undefined)
  }

  /**
   * Runs `work` on the connection, taking it now if it was not taken (or was closed). `session` is
   * the server's id of the session taken (where the driver tells it), for a statement to check
   * that it runs there. A connection already lost is given back unused and reported as
   * {@link StagingNotSent}; one that fails is closed; one lost meanwhile is reported as
   * {@link StagingLost}.
   */
  async use<Result>(
    work: (connection: DriverConnection, session: number | undefined) => Promise<Result>,
  ): Promise<Result> {
    let connection = await this.#taking
    if (connection === undefined) {
      connection = await this.#database.acquire()
      this.#taking = Promise.resolve(connection)
    }
    const session = await connection.sessionId?.()
    // Nothing awaited from here to `work` sending its statement: a close is heard in an event of
    // its own, so it cannot come between this check and the send.
    if (connection.lost) {
      this.#taking = undefined
      connection.release(true)
      throw new StagingNotSent(
        Object.assign(
          new Error(
            `txkit: the session of the staging connection to database "${this.#database.name}" ended before anything was sent on it`,
          ),
          { code: '08003' },
        ),
      )
    }
    try {
      return await work(connection, session)
    } catch (error) {
      this.#taking = undefined
      connection.release(true)
      const unknown =
        connection.lost ||
        this.#database.dialect.isConnectionLost(error) ||
        error instanceof UnconfirmedAnswer
      throw unknown ? new StagingLost(error) : error
    }
  }

  /** Gives the connection back (once it has come, if it is still coming). */
  release(): void {
    if (this.#released) return
    this.#released = true
    void this.#taking?.then((connection) => connection?.release(false))
    this.#taking = undefined
  }
}
