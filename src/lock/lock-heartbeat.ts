import type { DriverConnection } from '../driver/driver-connection.js'

/**
 * A held lock's heartbeat: every period the session must answer a trivial statement within that
 * period. One that does not (a network partition, a stalled server) is reported silent, so that the
 * holder stops before the server, or another holder, can prove it still owns anything.
 */
export class LockHeartbeat {
  #timer: NodeJS.Timeout | undefined
  #pinging = false

  /**
   * Starts beating on `connection` every `every` ms with `ping`; `busy()` skips a beat (statements
   * the holder runs prove the session alive); `silent(error)` is called once on a missed beat.
   */
  constructor(
    connection: DriverConnection,
    every: number,
    ping: string,
    busy: () => boolean,
    silent: (error: unknown) => void,
  ) {
    this.#timer = setInterval(() => void this.#beat(connection, every, ping, busy, silent), every)
    this.#timer.unref()
  }

  async #beat(
    connection: DriverConnection,
    within: number,
    ping: string,
    busy: () => boolean,
    silent: (error: unknown) => void,
  ): Promise<void> {
    if (this.#timer === undefined || this.#pinging || busy()) return
    this.#pinging = true
    let timeout: NodeJS.Timeout | undefined
    try {
      await Promise.race([
        connection.query(ping),
        new Promise((_, reject) => {
          timeout = setTimeout(
            () => reject(new Error(`no answer to a heartbeat within ${within} ms`)),
            within,
          )
        }),
      ])
    } catch (error) {
      if (this.#timer !== undefined) {
        this.stop()
        silent(error)
      }
    } finally {
      clearTimeout(timeout)
      this.#pinging = false
    }
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
  }
}
