import { errorMessage } from '../util/error-message.js'
import type { IdKind } from '../xid/xid.js'
import type { FoundBranch } from './found-branch.js'
import type { LeftReason, TransactionRecovery } from './recovery-report.js'
import type { Settings } from './recovery-settings.js'

/** How an operator finds the decision log a tag names. */
export function describeTag(tag: string): string {
  const [database = tag, table] = tag.split('~')
  return table === undefined
    ? `database "${database}", table txkit_decision`
    : `database "${database}", a table other than txkit_decision (its name hashes to ${table})`
}

/**
 * The report for a decision-protocol transaction whose decision is in none of the logs recovery
 * was given: its id names another log, or (an id from before ids named their log) recovery has no
 * `decisionLog` to read it in.
 */
export function notConfigured(
  group: readonly FoundBranch[],
  settings: Settings,
): TransactionRecovery {
  const tag = group[0]?.parsed.decisionLog
  if (tag === undefined) {
    return leftAlone(
      group,
      'decision',
      'no-decision-log',
      'its id is from before ids named their decision log, and recovery has no decision log to read it in: ' +
        'pass the one the writers recorded in then (--decision-log NAME, or decisionLog in recover())',
    )
  }
  const given = settings.decisionLogs.map((log) => `"${log.tag}"`).join(', ')
  return leftAlone(
    group,
    'decision',
    'other-decision-log',
    `its decision is recorded in decision log "${tag}" (${describeTag(tag)}), not in ${given} which recovery was given: ` +
      'run recovery with that decision log (--decision-log NAME, or --decision-databases NAME,... for decisions kept by the participants)',
  )
}

/** A transaction of a protocol this round does not recover: reported, with how to recover it. */
export function notSelected(
  group: readonly FoundBranch[],
  kind: IdKind,
  settings: Settings,
): TransactionRecovery {
  const tag = group[0]?.parsed.decisionLog
  if (kind === 'decision' && settings.decisionLogs.length === 0) {
    return leftAlone(
      group,
      kind,
      'no-decision-log',
      'a decision-protocol transaction, and recovery has no decision log: pass the one the writers ' +
        `record in (--decision-log NAME, or decisionLog in recover())${tag === undefined ? '' : `; its id names ${describeTag(tag)}`}`,
    )
  }
  return leftAlone(
    group,
    kind,
    'protocol-not-selected',
    `a ${kind}-protocol transaction, and recovery was asked for ${[...settings.protocols].join(' and ')} only: use protocol "all" (--protocol all) to recover it too`,
  )
}

export function ageOf(group: readonly FoundBranch[]): number | undefined {
  const startedAt = group[0]?.parsed.startedAt
  if (startedAt !== undefined) return Date.now() - startedAt
  const prepared = group.flatMap((branch) =>
    branch.preparedAt === undefined ? [] : [branch.preparedAt],
  )
  return prepared.length === 0 ? undefined : Date.now() - Math.min(...prepared)
}

export function branchName(branch: FoundBranch, participants: readonly string[]): string {
  if (branch.database.dialect.preparedListScope === 'server') {
    return participants[branch.parsed.index] || branch.database.name
  }
  return branch.database.name
}

export function leftAlone(
  group: readonly FoundBranch[],
  protocol: IdKind,
  left: LeftReason,
  reason: string,
  decision: TransactionRecovery['decision'] = 'none',
): TransactionRecovery {
  return {
    gtrid: group[0]?.parsed.gtrid ?? '',
    protocol,
    ageMs: ageOf(group),
    branches: group.map((branch) => ({
      database: branch.database.name,
      xid: branch.xid,
      index: branch.parsed.index,
      outcome: 'left',
    })),
    decision,
    reason,
    action: 'left',
    left,
    warnings: [],
  }
}

export function failedTransaction(
  group: readonly FoundBranch[],
  error: unknown,
): TransactionRecovery {
  return {
    gtrid: group[0]?.parsed.gtrid ?? '',
    protocol: group[0]?.parsed.kind ?? 'decision',
    ageMs: ageOf(group),
    branches: group.map((branch) => ({
      database: branch.database.name,
      xid: branch.xid,
      index: branch.parsed.index,
      outcome: 'failed',
    })),
    decision: 'none',
    reason: 'recovery of this transaction failed',
    action: 'failed',
    error: errorMessage(error),
    warnings: [],
  }
}
