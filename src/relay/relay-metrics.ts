/** A relay's counters, since it was created, over every database. */
export interface RelayMetrics {
  /** Pending messages at the last count (every few seconds while running). */
  readonly pending: number
  /** Age of the oldest pending message at the last count, by the database's clock. */
  readonly oldestPendingAgeMs: number
  readonly published: number
  /** Failed tries (each is retried later, or dead-lettered after the last). */
  readonly failed: number
  readonly deadLettered: number
  /** Commit→publish lag of the last message published. */
  readonly lastLagMs: number | undefined
  /** Batches run. */
  readonly batches: number
  /** Passes that failed (a database or broker error), each logged. */
  readonly failedPasses: number
  /** Commit notifications heard (PostgreSQL). */
  readonly notifications: number
  /** Passes a notification started (rather than the poll). */
  readonly notifiedPasses: number
  /** Databases whose commits' notifications the relay hears now. */
  readonly listening: number
  /** LISTENs begun (the first, and one after each lost connection). */
  readonly listens: number
  /** `pending` and `oldestPendingAgeMs` of each database, at its last count. */
  readonly databases: ReadonlyArray<{
    readonly name: string
    readonly pending: number
    readonly oldestPendingAgeMs: number
  }>
}

/**
 * The counters as they change.
 *
 * @example
 * ```ts
 * const counters = new RelayCounters()
 * counters.published++
 * counters.snapshot().published // 1
 * ```
 */
export class RelayCounters {
  published = 0
  failed = 0
  deadLettered = 0
  lastLagMs: number | undefined
  batches = 0
  failedPasses = 0
  notifications = 0
  notifiedPasses = 0
  listening = 0
  listens = 0
  /** The last count per database. */
  readonly pending = new Map<string, { pending: number; oldestPendingAgeMs: number }>()

  snapshot(): RelayMetrics {
    let pending = 0
    let oldest = 0
    for (const each of this.pending.values()) {
      pending += each.pending
      oldest = Math.max(oldest, each.oldestPendingAgeMs)
    }
    return {
      pending,
      oldestPendingAgeMs: oldest,
      published: this.published,
      failed: this.failed,
      deadLettered: this.deadLettered,
      lastLagMs: this.lastLagMs,
      batches: this.batches,
      failedPasses: this.failedPasses,
      notifications: this.notifications,
      notifiedPasses: this.notifiedPasses,
      listening: this.listening,
      listens: this.listens,
      databases: [...this.pending].map(([name, counts]) => ({ name, ...counts })),
    }
  }
}
