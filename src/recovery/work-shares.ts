import type { LockDialect, LockRequest } from '../dialect/lock-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { lockIdentifier } from '../lock/lock-key.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'

/** How many shares a round's work is cut into, the same in every worker (a share is a lock). */
export const SHARES = 64

/** The share of a transaction: FNV-1a of its gtrid, so that every worker computes the same one. */
export function shareOf(gtrid: string): number {
  let hash = 0x811c9dc5
  for (let index = 0; index < gtrid.length; index++) {
    hash ^= gtrid.charCodeAt(index)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0) % SHARES
}

/**
 * A round's work cut into {@link SHARES} shares by gtrid, handed out share by share to concurrent
 * pullers. A share is taken only while its lock on the decision database is free, and kept until
 * the round ends (`close`): two workers in the same round split the work, and a worker that starts
 * later skips what the other is doing or did. The lock is only about work: safety never depends on
 * it. Each worker starts at a random share, so that two starting together rarely meet.
 */
export class WorkShares<Item> {
  readonly #connection: DriverConnection
  readonly #dialect: LockDialect
  readonly #scope: string
  readonly #order: Array<{ readonly share: number; readonly items: Item[] }>
  readonly #held: LockRequest[] = []
  readonly #logger: Logger
  readonly #stillToDo: (items: readonly Item[]) => Promise<boolean>
  readonly #onTaken: (items: readonly Item[]) => void
  #position = 0
  #current: Item[] = []
  /** The next share, being taken while the current one is worked through. */
  #ahead: Promise<Item[] | undefined> | undefined
  #lockFailed = false
  /** What another worker held: not done by this one. */
  readonly skipped: Item[] = []

  constructor(options: {
    readonly connection: DriverConnection
    readonly dialect: LockDialect
    /**
     * What the locks are named after: the deployment's prefix and decision log. Workers of another
     * decision log in the same database leave this one's transactions alone, so they must not
     * hold its shares.
     */
    readonly scope: string
    readonly items: readonly Item[]
    readonly gtridOf: (item: Item) => string
    /**
     * Whether a share just taken still has work: a worker that ended gave its shares back, and
     * this worker's scan, older than that worker's commits, still lists what it finished.
     */
    readonly stillToDo: (items: readonly Item[]) => Promise<boolean>
    /** Called with a share's items once this worker has taken it, before any is handed out. */
    readonly onTaken: (items: readonly Item[]) => void
    readonly logger: Logger
  }) {
    this.#connection = options.connection
    this.#dialect = options.dialect
    this.#scope = options.scope
    this.#logger = options.logger
    this.#stillToDo = options.stillToDo
    this.#onTaken = options.onTaken
    const shares: Item[][] = Array.from({ length: SHARES }, () => [])
    for (const item of options.items) shares[shareOf(options.gtridOf(item))]?.push(item)
    const start = Math.floor(Math.random() * SHARES)
    this.#order = shares
      .map((items, share) => ({ share, items }))
      .filter(({ items }) => items.length > 0)
    const pivot = this.#order.findIndex(({ share }) => share >= start)
    if (pivot > 0) this.#order.push(...this.#order.splice(0, pivot))
  }

  /** The next item of a share this worker holds; undefined once every share was taken or skipped. */
  async next(): Promise<Item | undefined> {
    for (;;) {
      const item = this.#current.pop()
      if (item !== undefined) return item
      const ahead = this.#ahead ?? this.#lookAhead()
      const taken = await ahead
      if (taken === undefined) return undefined
      if (this.#ahead === ahead) {
        // The first puller back installs the share, and the next one is taken meanwhile, so that
        // the pullers never wait for a lock at a share's end.
        this.#current = taken
        this.#lookAhead()
      }
    }
  }

  #lookAhead(): Promise<Item[] | undefined> {
    this.#ahead = this.#takeNext()
    return this.#ahead
  }

  async #takeNext(): Promise<Item[] | undefined> {
    while (this.#position < this.#order.length) {
      const { share, items } = this.#order[this.#position++] as { share: number; items: Item[] }
      if ((await this.#claim(share)) && (await this.#stillToDo(items).catch(() => true))) {
        // Taken from the end: the item checked first is the one other workers also do first.
        this.#onTaken(items)
        return items
      }
      this.skipped.push(...items)
    }
    return undefined
  }

  async #claim(share: number): Promise<boolean> {
    // Without a working lock every share is taken: work may be repeated, never left undone.
    if (this.#lockFailed) return true
    const request: LockRequest = {
      id: lockIdentifier(`txkit-recovery:${this.#scope}:${share}`, this.#dialect.keySpace, {
        longKeys: 'hash',
      }),
      mode: 'exclusive',
      scope: 'session',
    }
    try {
      const grant = await this.#dialect.acquire(this.#connection, request, 0, undefined, false)
      if (grant.acquired) this.#held.push(request)
      return grant.acquired
    } catch (error) {
      this.#lockFailed = true
      this.#logger.warn(
        { error: errorMessage(error) },
        'txkit recover: the work-share lock failed; this worker takes every share (work may be repeated by another worker)',
      )
      return true
    }
  }

  /** Gives every share lock back. */
  async close(): Promise<void> {
    for (const request of this.#held.splice(0)) {
      await this.#dialect.release(this.#connection, request)
    }
  }
}
