import type { Logger } from '../util/logger.js'
import type { CommitResult } from './commit-result.js'

/** What a coordinator's background commits have done so far. */
export interface BackgroundCommitStats {
  /** Transactions acknowledged at their decision whose branches are still being committed. */
  readonly inFlight: number
  /** Transactions whose every branch the background work committed. */
  readonly finished: number
  /** Transactions with a branch the background work could not commit: recovery commits it. */
  readonly leftToRecovery: number
}

/**
 * The commits a coordinator finishes after acknowledging them at their decision (`acknowledge:
 * 'decision'`). Bounded: beyond `limit` in flight, a commit is finished before it is acknowledged,
 * as without the option. Drained by `coordinator.close()`.
 */
export class BackgroundCommits {
  readonly #limit: number
  readonly #logger: Logger
  readonly #inFlight = new Set<Promise<unknown>>()
  #finished = 0
  #leftToRecovery = 0

  constructor(limit: number, logger: Logger) {
    this.#limit = limit
    this.#logger = logger
  }

  /** Whether one more commit may be finished in the background now. */
  hasRoom(): boolean {
    return this.#inFlight.size < this.#limit
  }

  /**
   * Tracks the background work of one transaction. The answer never rejects (nobody may be
   * listening): should the work throw, the error is logged and `unfinished()` reports where the
   * branches stand.
   */
  track(
    gtrid: string,
    work: Promise<CommitResult>,
    unfinished: () => CommitResult,
  ): Promise<CommitResult> {
    const tracked = work
      .catch((error: unknown) => {
        this.#logger.error(
          { gtrid, error },
          'txkit: finishing a commit acknowledged at its decision failed; recovery commits it',
        )
        return unfinished()
      })
      .then((result) => {
        if (result.pending.length === 0) this.#finished += 1
        else this.#leftToRecovery += 1
        return result
      })
    this.#inFlight.add(tracked)
    void tracked.then(() => this.#inFlight.delete(tracked))
    return tracked
  }

  get stats(): BackgroundCommitStats {
    return {
      inFlight: this.#inFlight.size,
      finished: this.#finished,
      leftToRecovery: this.#leftToRecovery,
    }
  }

  /** Resolves once every commit under way, and any started meanwhile, is finished. */
  async drain(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.all(this.#inFlight)
  }
}
