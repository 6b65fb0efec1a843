import type { TransactionDetail } from './show-transaction.js'

/** What the operator asked for, and what the decision row says. */
export interface Judged {
  /** Why nothing may be done (it would contradict the decision, or cannot be told); else undefined. */
  readonly refusal?: string
  /**
   * What makes this resolution a heuristic one: the outcome of a branch already finished (or of the
   * protocol's own rule) may be the other one. Empty when the resolution follows the protocol.
   */
  readonly risks: readonly string[]
}

/** The indexes of the id's branches prepared on no database given; undefined when the id carries no count. */
export function missingIndexes(detail: TransactionDetail): number[] | undefined {
  const count = detail.branches[0]?.count ?? 0
  if (count === 0) return undefined
  const found = new Set(detail.branches.map((branch) => branch.index))
  return Array.from({ length: count }, (_, index) => index).filter((index) => !found.has(index))
}

/**
 * The rules of `txkit resolve` (docs/recovery-and-cli.md "txkit resolve"):
 *
 * - anything unreadable, no branch prepared, or a staged ('S') row: refused;
 * - a decision row contradicting the choice: refused; agreeing with it: followed;
 * - decision protocol, no row, rollback: what recovery does (record 'A'), unless the transaction
 *   is older than its decision table (its decision may be in a lost table): heuristic;
 * - decision protocol, no row, commit: always heuristic (the protocol's outcome is abort; a branch
 *   gone is rolled back, and a live coordinator that finds the row rolls back);
 * - sequential protocol (no decision kept): heuristic when some of the id's branches are prepared
 *   nowhere (what became of them is not recorded anywhere), else the choice is applied.
 */
export function judge(
  detail: TransactionDetail,
  decision: 'commit' | 'rollback',
  /** When the decision table was created (ms), where known. */
  tableCreatedAt: number | undefined,
): Judged {
  const unreadable = detail.databases.filter((each) => each.state === 'error')
  if (unreadable.length > 0) {
    return {
      refusal: `${unreadable.map((each) => `"${each.name}"`).join(', ')} could not be read: what its branches are is not known`,
      risks: [],
    }
  }
  if (detail.decision.error !== undefined) {
    return { refusal: `its decision could not be read: ${detail.decision.error}`, risks: [] }
  }
  if (detail.branches.length === 0) {
    return {
      refusal: 'no branch of it is prepared on the databases given: nothing to resolve',
      risks: [],
    }
  }
  const missing = missingIndexes(detail)
  const gone =
    missing === undefined
      ? 'the id carries no branch count (its databases joined after it began), so whether any branch is already finished is not known'
      : missing.length === 0
        ? undefined
        : `branch(es) ${missing.join(', ')} of ${detail.branches[0]?.count} are prepared on none of the databases given: already finished, one way or the other, or never prepared`
  if (detail.protocol === 'sequential') return { risks: gone === undefined ? [] : [gone] }
  const recorded = detail.decision.outcome ?? null
  if (recorded === 'S') {
    return {
      refusal:
        "its decision row is staged ('S', parallel protocol): `txkit recover` turns it into 'C' or 'A' by its fences; resolve after that",
      risks: [],
    }
  }
  const wanted = decision === 'commit' ? 'C' : 'A'
  if (recorded !== null) {
    return recorded === wanted
      ? { risks: [] }
      : {
          refusal: `its decision row says '${recorded}' (${recorded === 'C' ? 'commit' : 'abort'}): a ${decision} would contradict the recorded decision. Resolve it with --${recorded === 'C' ? 'commit' : 'rollback'}`,
          risks: [],
        }
  }
  if (decision === 'commit') {
    return {
      risks: [
        "no decision row: the protocol's outcome is abort (recovery would record 'A'); committing overrides it, and is safe only if its coordinator is gone",
        ...(gone === undefined
          ? []
          : [`${gone}; with no 'C' recorded, a finished branch was rolled back`]),
      ],
    }
  }
  const startedAt = detail.startedAt
  if (tableCreatedAt === undefined || startedAt === undefined || startedAt < tableCreatedAt) {
    return {
      risks: [
        tableCreatedAt === undefined
          ? 'no decision row, and the decision table carries no creation time: the decision may be in another or a lost table'
          : 'no decision row, but the transaction began before its decision table existed: its decision may be in another or a lost table',
      ],
    }
  }
  return { risks: [] }
}
