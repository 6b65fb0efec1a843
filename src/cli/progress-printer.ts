import type { RecoveryProgress } from '../recovery/recovery-progress.js'
import type { Logger } from '../util/logger.js'
import type { StatusLine } from './status-line.js'

export interface ProgressPrinterOptions {
  /** What the lines start with: `txkit recover`, `txkit watch`. */
  readonly label: string
  /** Where count records go (stderr, as text or JSON lines). */
  readonly logger: Logger
  /** On a terminal: one line redrawn in place instead of records. */
  readonly line?: StatusLine
  /** Milliseconds between two records (a terminal's line is redrawn every 100 ms at most). */
  readonly everyMs: number
  /** A round whose transactions are finished within this prints nothing: small runs stay quiet. */
  readonly quietMs: number
}

/**
 * The environment variable that sets every interval of the progress output (records, redraws,
 * the quiet start) to its value in milliseconds: for tests, which need a progress line from a
 * round of a second.
 */
export const PROGRESS_MS_VARIABLE = 'TXKIT_PROGRESS_MS'

/** `everyMs` and `quietMs`, or the test interval of `TXKIT_PROGRESS_MS` when it is set. */
export function progressTimes(
  everyMs: number,
  quietMs: number,
): { everyMs: number; quietMs: number } {
  const forced = Number(process.env[PROGRESS_MS_VARIABLE] ?? Number.NaN)
  return Number.isFinite(forced) && forced >= 0
    ? { everyMs: forced, quietMs: forced }
    : { everyMs, quietMs }
}

/** `1m22s`, `45s`: a time to go, rounded up to the second. */
function duration(ms: number): string {
  const seconds = Math.ceil(ms / 1000)
  const minutes = Math.floor(seconds / 60)
  const hours = Math.floor(minutes / 60)
  if (hours > 0) return `${hours}h${String(minutes % 60).padStart(2, '0')}m`
  if (minutes > 0) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`
  return `${seconds}s`
}

/**
 * A `recover()` `onProgress` that prints a long round's progress: on a terminal, one line redrawn
 * in place (done/total, rate, time to go) and cleared at the end, so that the report that follows
 * is clean; else a count record every `everyMs` through the logger, and a last one with the final
 * counts. A round that ends within `quietMs` prints nothing.
 *
 * @example
 * ```ts
 * const onProgress = progressPrinter({ label: 'txkit recover', logger, everyMs: 2000, quietMs: 1000 })
 * await recover({ ...options, onProgress })
 * ```
 */
export function progressPrinter(
  options: ProgressPrinterOptions,
): (progress: RecoveryProgress) => void {
  const { label, logger, line, everyMs, quietMs } = options
  const redrawMs = Math.min(100, everyMs)
  let printedAt: number | undefined
  return (progress) => {
    const { done, total, committed, rolledBack, left, failed, finishingMs } = progress
    const perSecond = finishingMs > 0 ? (done * 1000) / finishingMs : 0
    const toGoMs = perSecond > 0 ? ((total - done) * 1000) / perSecond : undefined
    const record = (): void =>
      logger.info?.(
        {
          done,
          total,
          committed,
          rolledBack,
          left,
          failed,
          perSecond: Math.round(perSecond * 10) / 10,
          ...(toGoMs !== undefined && done < total && { toGoMs: Math.round(toGoMs) }),
        },
        `${label}: progress`,
      )
    if (progress.final) {
      if (printedAt === undefined) return
      if (line !== undefined) line.clear()
      else record()
      return
    }
    // Timed from the plan, not the round's start: a sequential round's wait between its two scans
    // (minAge, 15 s by default) is not a long round to show.
    if (finishingMs < quietMs) return
    if (printedAt !== undefined && finishingMs - printedAt < (line ? redrawMs : everyMs)) return
    if (line === undefined && printedAt === undefined && finishingMs < everyMs) return
    printedAt = finishingMs
    if (line === undefined) {
      record()
      return
    }
    const percent = total > 0 ? Math.floor((done * 100) / total) : 100
    const rate = perSecond >= 10 ? Math.round(perSecond) : Math.round(perSecond * 10) / 10
    const eta = toGoMs === undefined ? '' : `, ${duration(toGoMs)} to go`
    line.show(`${label}: ${done}/${total} (${percent}%), ${rate}/s${eta}`)
  }
}
