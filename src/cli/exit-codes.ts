/** Exit codes a scheduler can act on. */
export const EXIT = {
  /** Nothing left in doubt. */
  done: 0,
  /** Something failed, or needs a person (another decision log, a missing table, malformed ids). */
  failed: 1,
  usage: 2,
  /** Work left for a later round: too young, a decision still open, a branch still attached. */
  later: 3,
} as const
