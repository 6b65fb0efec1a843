import { setImmediate as nextTurn } from 'node:timers/promises'

/**
 * Keeps calls of different contexts (txkit transactions, or none) out of one tick. Prisma
 * gathers the `findUnique`s made in one tick into one batch and runs it, in the next tick, in the
 * async context of the first: were two transactions' reads in one batch, one would run on the
 * other's connection and see its uncommitted writes. Calls of one context start together; a call
 * of another context starts once the event loop has turned after the last of them started (Prisma
 * has then sent their batch). No call waits for a query to finish, so a slow query or a pool
 * waiting for a connection holds nobody up. First come, first served between contexts.
 */
export class ContextGate {
  #context: unknown
  #starting = 0
  readonly #waiting: Array<{ readonly context: unknown; readonly enter: () => void }> = []

  /**
   * Starts `call` once no call of another context is starting, and answers its result.
   *
   * @example
   * ```ts
   * const row = await gate.start(manager.current(), () => query(args))
   * ```
   */
  async start<T>(context: unknown, call: () => PromiseLike<T>): Promise<T> {
    if (this.#starting > 0 && (this.#context !== context || this.#waiting.length > 0)) {
      await new Promise<void>((enter) => this.#waiting.push({ context, enter }))
    } else {
      this.#context = context
      this.#starting += 1
    }
    let started: Promise<T>
    try {
      // Prisma's promises run when awaited: Promise.resolve sets this one off.
      started = Promise.resolve(call())
    } finally {
      void nextTurn().then(() => this.#started())
    }
    return started
  }

  #started(): void {
    this.#starting -= 1
    if (this.#starting > 0) return
    const first = this.#waiting[0]
    if (first === undefined) return
    this.#context = first.context
    const admitted = this.#waiting.filter((waiter) => waiter.context === first.context)
    const others = this.#waiting.filter((waiter) => waiter.context !== first.context)
    this.#waiting.splice(0, this.#waiting.length, ...others)
    this.#starting = admitted.length
    for (const waiter of admitted) waiter.enter()
  }
}
