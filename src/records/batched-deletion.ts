const FLUSH_DELAY_MS = 1000
const FLUSH_BATCH = 500

/**
 * Rows of finished transactions, queued per database and deleted in batches off the commit path:
 * a batch goes once {@link FLUSH_BATCH} keys wait for one database, or a second after the first
 * key; one flush's deletions run after the previous flush's. `deleteBatch` must not throw (a row
 * it leaves behind is removed by recovery later).
 */
export class BatchedDeletion<Group, Key> {
  readonly #deleteBatch: (group: Group, keys: Key[]) => Promise<void>
  readonly #queued = new Map<Group, Key[]>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()

  constructor(deleteBatch: (group: Group, keys: Key[]) => Promise<void>) {
    this.#deleteBatch = deleteBatch
  }

  /** Queues `key` for deletion from `group`. */
  queue(group: Group, key: Key): void {
    const keys = this.#queued.get(group)
    if (keys === undefined) this.#queued.set(group, [key])
    else keys.push(key)
    if ((keys?.length ?? 1) >= FLUSH_BATCH) {
      void this.flush()
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), FLUSH_DELAY_MS)
      this.#timer.unref()
    }
  }

  /** Deletes everything queued now; resolves once it, and every earlier flush, is done. */
  flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batches = [...this.#queued]
    this.#queued.clear()
    this.#flushing = this.#flushing.then(async () => {
      await Promise.all(batches.map(([group, keys]) => this.#deleteBatch(group, keys)))
    })
    return this.#flushing
  }
}
