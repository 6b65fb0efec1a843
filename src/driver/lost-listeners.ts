/** The listeners of a session's loss: each is called once, when the session is first seen gone. */
export class LostListeners {
  readonly #listeners = new Set<() => void>()
  #lost = false

  get lost(): boolean {
    return this.#lost
  }

  add(listener: () => void): () => void {
    if (this.#lost) {
      queueMicrotask(listener)
      return () => undefined
    }
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  markLost(): void {
    if (this.#lost) return
    this.#lost = true
    const listeners = [...this.#listeners]
    this.#listeners.clear()
    for (const listener of listeners) listener()
  }
}
