import type { BranchReport } from '../errors/branch-report.js'
import { type SpanAttributes, startSpan, type TraceSpan } from '../tracing/span.js'
import type { Logger } from '../util/logger.js'
import type { Branch } from './branch.js'

/** The protocol steps a transaction goes through, in order. */
export type ProtocolStep = 'prepare' | 'decision' | 'commit'

/** One protocol step about to run (`before`) or just done (`after`). */
export interface ProtocolStepEvent {
  readonly step: ProtocolStep
  readonly when: 'before' | 'after'
  readonly gtrid: string
  /** The branch concerned (prepare and commit steps); absent for the decision. */
  readonly branch?: BranchReport
}

/**
 * Observes protocol steps, for tracing and for fault injection in tests. It is awaited. A `before`
 * observer that throws fails that step exactly as a database error there would (a prepare or the
 * decision then rolls everything back; a commit leaves the branch prepared for recovery). What an
 * `after` observer throws is logged and ignored.
 */
export type ProtocolStepObserver = (event: ProtocolStepEvent) => void | Promise<void>

/** What a step reads of its transaction (a `TransactionRun`). */
export interface StepRun {
  readonly gtrid: string
  readonly logger: Logger
  readonly onStep: ProtocolStepObserver | undefined
  /** The transaction's span, the parent of the step's. */
  readonly span: TraceSpan | undefined
}

/** How {@link runStep} runs one step. */
export interface StepOptions<Result> {
  readonly step: ProtocolStep
  /** The branch concerned (prepare and commit steps). */
  readonly branch?: Branch
  /** The step's span: its name and attributes. */
  readonly span: string
  readonly attributes: SpanAttributes
  /** The step's work, run once the `before` observer let it. */
  readonly work: (span: TraceSpan | undefined) => Promise<Result>
  /**
   * The error the step fails with, built from what was thrown (by the `before` observer or the
   * work), awaited when a promise; the thrown value itself when absent.
   */
  readonly failed?: (thrown: unknown, span: TraceSpan | undefined) => unknown
  /**
   * Whether the step did its part: the `after` observer runs only then; default always. When not,
   * the span ends with `undone`'s error.
   */
  readonly done?: (result: Result) => boolean
  readonly undone?: (result: Result) => unknown
  /**
   * When the `before` observer runs: inside the span before the work (default), before the span
   * (a commit whose observer threw is no commit attempt), or inside the work, which calls
   * {@link beforeStep} itself (the parallel decision, observed alongside the PREPAREs).
   */
  readonly before?: 'in-span' | 'before-span' | 'in-work'
}

/**
 * The one wrapper of a protocol step: its span, its `before` and `after` observers and the error
 * it fails with. Without observer and tracing (the hot path) it awaits nothing but the work: the
 * observers' promises exist only when someone observes.
 *
 * @example
 * ```ts
 * await runStep(run, { step: 'prepare', branch, span: 'txkit.prepare', attributes, work })
 * ```
 */
export async function runStep<Result>(run: StepRun, options: StepOptions<Result>): Promise<Result> {
  const when = options.before ?? 'in-span'
  if (when === 'before-span') {
    const before = beforeStep(run, options.step, options.branch)
    if (before !== undefined) await before
  }
  const span = startSpan(options.span, options.attributes, run.span)
  let result: Result
  try {
    if (when === 'in-span') {
      const before = beforeStep(run, options.step, options.branch)
      if (before !== undefined) await before
    }
    result = await options.work(span)
  } catch (thrown) {
    const error = options.failed === undefined ? thrown : await options.failed(thrown, span)
    span?.end(error)
    throw error
  }
  if (options.done !== undefined && !options.done(result)) {
    span?.end(options.undone?.(result))
    return result
  }
  span?.end()
  const after = afterStep(run, options.step, options.branch)
  if (after !== undefined) await after
  return result
}

function event(
  run: StepRun,
  step: ProtocolStep,
  when: ProtocolStepEvent['when'],
  branch: Branch | undefined,
): ProtocolStepEvent {
  return { step, when, gtrid: run.gtrid, ...(branch && { branch: branch.report() }) }
}

/**
 * Runs the `before` observer of a step; what it throws fails the step. Synchronous (no promise to
 * await) when nobody observes, which is the hot path.
 */
export function beforeStep(
  run: StepRun,
  step: ProtocolStep,
  branch?: Branch,
): Promise<void> | undefined {
  if (run.onStep === undefined) return undefined
  return observe(run.onStep, event(run, step, 'before', branch))
}

/** Runs the `after` observer of a step; what it throws is logged. */
export function afterStep(
  run: StepRun,
  step: ProtocolStep,
  branch?: Branch,
): Promise<void> | undefined {
  if (run.onStep === undefined) return undefined
  return observe(run.onStep, event(run, step, 'after', branch)).catch((error: unknown) => {
    run.logger.warn({ gtrid: run.gtrid, step, error }, 'txkit: step observer threw')
  })
}

async function observe(observer: ProtocolStepObserver, event: ProtocolStepEvent): Promise<void> {
  await observer(event)
}
