import { UnconfirmedAnswer } from '../dialect/dialect.js'
import type { Database } from '../driver/database.js'
import type { DriverConnection } from '../driver/driver-connection.js'

/**
 * The staging connection was lost with a statement on it, or its answer did not confirm it:
 * whether it took effect is unknown.
 */
export class StagingLost {
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
    const acquiring = this.#database.acquire()
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
   * Runs `work` on the connection, taking it now if it was not taken (or was closed). A connection
   * that fails is closed; one that is lost is reported as {@link StagingLost}.
   */
  async use<Result>(work: (connection: DriverConnection) => Promise<Result>): Promise<Result> {
    let connection = await this.#taking
    if (connection === undefined) {
      connection = await this.#database.acquire()
      this.#taking = Promise.resolve(connection)
    }
    try {
      return await work(connection)
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
