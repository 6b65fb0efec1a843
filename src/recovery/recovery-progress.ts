import type { TransactionRecovery } from '../protocol/recovery-report.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'

/**
 * How far a recovery round is, as `recover()`'s `onProgress` is told: once when the round's plan
 * is made (`done: 0`, `total` known from then on), after every transaction finished, and once at
 * the end. Calls are not throttled: a caller that prints them decides how often.
 *
 * @example
 * ```ts
 * const report = await recover({
 *   databases: { orders, ledger },
 *   decisionLog: orders,
 *   onProgress: ({ done, total, elapsedMs }) => {
 *     if (elapsedMs > 1000) process.stderr.write(`\r${done}/${total}`)
 *   },
 * })
 * ```
 */
export interface RecoveryProgress {
  /** Transactions handled so far (finished, left or failed), `total` at the end of a full round. */
  readonly done: number
  /** The transactions of the round's plan. */
  readonly total: number
  readonly committed: number
  readonly rolledBack: number
  readonly left: number
  readonly failed: number
  /** When the round started (ISO 8601), as in the report. */
  readonly startedAt: string
  /** Milliseconds since the round started (scans included). */
  readonly elapsedMs: number
  /** Milliseconds since the plan was made: the time spent finishing transactions. */
  readonly finishingMs: number
  /** Whether this is the round's last call. */
  readonly final: boolean
}

/** Counts a round's finished transactions and tells `onProgress`; a throwing callback is logged once. */
export class ProgressCounter {
  readonly #onProgress: ((progress: RecoveryProgress) => void) | undefined
  readonly #logger: Logger
  readonly #started: number
  #planned = 0
  #total = 0
  #done = 0
  #warned = false
  readonly #counts = { committed: 0, rolledBack: 0, left: 0, failed: 0 }

  constructor(
    onProgress: ((progress: RecoveryProgress) => void) | undefined,
    started: number,
    logger: Logger,
  ) {
    this.#onProgress = onProgress
    this.#started = started
    this.#logger = logger
  }

  /** The plan is made: `total` transactions to handle. */
  planned(total: number): void {
    this.#planned = Date.now()
    this.#total = total
    this.#tell(false)
  }

  /** One work item handled; `result` is what it came to, if it made a report entry. */
  handled(result: TransactionRecovery | undefined): void {
    this.#done++
    if (result?.action === 'committed') this.#counts.committed++
    else if (result?.action === 'rolled-back') this.#counts.rolledBack++
    else if (result?.action === 'failed') this.#counts.failed++
    else if (result !== undefined) this.#counts.left++
    this.#tell(false)
  }

  /** The round's transactions are all handled (or it was aborted). */
  finished(): void {
    this.#tell(true)
  }

  #tell(final: boolean): void {
    if (this.#onProgress === undefined) return
    const now = Date.now()
    try {
      this.#onProgress({
        done: this.#done,
        total: this.#total,
        ...this.#counts,
        startedAt: new Date(this.#started).toISOString(),
        elapsedMs: now - this.#started,
        finishingMs: now - (this.#planned || now),
        final,
      })
    } catch (error) {
      // Progress is only shown: it never stops a round.
      if (this.#warned) return
      this.#warned = true
      this.#logger.warn({ error: errorMessage(error) }, 'txkit recover: onProgress threw')
    }
  }
}
