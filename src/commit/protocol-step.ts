import type { BranchReport } from '../errors/branch-report.js'

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
