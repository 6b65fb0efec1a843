/** What a reservation needs of postgres.js: `sql.reserve()`, and giving one back. */
interface Reservable<Reserved extends { release(): void }> {
  reserve(): Promise<Reserved>
}

/**
 * Reservations of one postgres.js instance that survive postgres.js 3.4.9's stranded reserve
 * (porsager/postgres#1195: a `reserve()` queued while a connection of the pool closes is handed to
 * that connection's reconnect and never settles). A reservation still waiting when one of txkit's
 * connections closes, or after `retryMs`, asks again; the first answer wins and a late one is given
 * back at once. Without this, a killed backend under load would leave an acquire waiting forever.
 * postgres.js 4's rewritten pool hands a queued reserve to the connection it opens next; asking
 * again there costs only a reservation given back at once, so both versions take the same path.
 *
 * With the server gone, a `reserve()` queued behind the failing ones may never be answered either:
 * a reservation still waiting when it asks again, after the pool's latest answer was a failure that
 * came since it began, fails with that error rather than wait for a server that refuses.
 */
export class Reservations<Reserved extends { release(): void }> {
  readonly #sql: Reservable<Reserved>
  readonly #retryMs: number
  /** Asks again for every reservation still waiting (a connection of the pool just closed). */
  readonly #waiting = new Set<() => void>()
  /** The pool's latest failed reservation, and when; cleared by a later success. */
  #failure: { readonly at: number; readonly error: unknown } | undefined

  constructor(sql: Reservable<Reserved>, retryMs = 2000) {
    this.#sql = sql
    this.#retryMs = retryMs
  }

  reserve(): Promise<Reserved> {
    return new Promise<Reserved>((resolve, reject) => {
      const startedAt = performance.now()
      let settled = false
      let attempts = 0
      let failures = 0
      let timer: NodeJS.Timeout | undefined
      const askAgain = (): void => {
        if (settled) return
        const failure = this.#failure
        if (attempts > 0 && failure !== undefined && failure.at >= startedAt) {
          settled = true
          done()
          reject(failure.error)
          return
        }
        attempts++
        clearTimeout(timer)
        timer = setTimeout(askAgain, this.#retryMs)
        timer.unref()
        this.#sql.reserve().then(
          (reserved) => {
            this.#failure = undefined
            if (settled) {
              reserved.release()
              return
            }
            settled = true
            done()
            resolve(reserved)
          },
          (error: unknown) => {
            this.#failure = { at: performance.now(), error }
            failures++
            // Every attempt failed (the server refuses connections): the last error says why.
            if (!settled && failures === attempts) {
              settled = true
              done()
              reject(error)
            }
          },
        )
      }
      const done = (): void => {
        clearTimeout(timer)
        this.#waiting.delete(askAgain)
      }
      this.#waiting.add(askAgain)
      askAgain()
    })
  }

  /** A connection of the pool closed: reservations waiting now may be the stranded kind. */
  connectionClosed(): void {
    // After postgres.js has moved the closed connection (it does so right after this is heard).
    setImmediate(() => {
      for (const askAgain of [...this.#waiting]) askAgain()
    })
  }
}
