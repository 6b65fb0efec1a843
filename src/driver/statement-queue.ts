/**
 * Sends the statements of one session one after another: each waits until the one before has
 * answered. A driver that queues concurrent statements itself may stop doing so (node-postgres 9
 * drops its queue and warns about it since 8.23); the statements of a transaction's concurrent
 * async flows share one session, so txkit keeps the order itself.
 */
export class StatementQueue {
  #waiting = 0
  #tail: Promise<void> = Promise.resolve()

  /**
   * Runs `send` once every statement queued before has answered; at once when none is running.
   *
   * @example
   * ```ts
   * const queue = new StatementQueue()
   * await Promise.all([queue.run(() => client.query('select 1')), queue.run(() => client.query('select 2'))])
   * ```
   */
  run<Result>(send: () => Promise<Result>): Promise<Result> {
    const result = this.#waiting === 0 ? send() : this.#tail.then(send)
    this.#waiting++
    const done = (): void => {
      this.#waiting--
    }
    this.#tail = result.then(done, done)
    return result
  }
}
