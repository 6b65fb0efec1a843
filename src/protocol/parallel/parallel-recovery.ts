import type { DecisionRow } from '../../dialect/dialect.js'
import type { DecisionLog } from '../../records/decision-log.js'
import { finishGroup } from '../finish-group.js'
import type { FoundBranch } from '../found-branch.js'
import { leftAlone } from '../left-alone.js'
import type { TransactionRecovery } from '../recovery-report.js'
import type { Settings } from '../recovery-settings.js'
import { resolveStaged } from './resolve-staged.js'

/**
 * A transaction whose row reads 'S': resolved first (by its prepared branches and fences), then
 * followed. `group` holds its prepared branches; with none, only the row is left to resolve.
 */
export async function finishStaged(
  group: readonly FoundBranch[],
  row: DecisionRow,
  settings: Settings,
  decisionLog: DecisionLog,
): Promise<TransactionRecovery> {
  if (group.length === 0) return recoverStagedRow(row, settings, decisionLog)
  if (settings.dryRun) {
    return leftAlone(
      group,
      'decision',
      'decision-open',
      "staged decision 'S' (parallel protocol): a recovery run resolves it by the prepared branches and their fences",
    )
  }
  const resolved = await resolveStaged(row, group, settings, decisionLog)
  if ('left' in resolved) return leftAlone(group, 'decision', resolved.left, resolved.reason)
  if (resolved.row === undefined || resolved.row.outcome === 'S') {
    return leftAlone(
      group,
      'decision',
      'in-use',
      'its staged decision was resolved and finished by another session meanwhile',
    )
  }
  const { outcome } = resolved.row
  return finishGroup(
    group,
    outcome === 'C' ? 'commit' : 'rollback',
    resolved.reason,
    resolved.row,
    settings,
    'parallel',
  )
}

/**
 * A staged decision ('S') older than `minAge` with no branch prepared: its coordinator stopped
 * before any PREPARE succeeded, or after every branch committed. Resolved like any staged one.
 */
async function recoverStagedRow(
  row: DecisionRow,
  settings: Settings,
  decisionLog: DecisionLog,
): Promise<TransactionRecovery> {
  const resolved = await resolveStaged(row, [], settings, decisionLog)
  const base = {
    gtrid: row.gtrid,
    protocol: 'decision' as const,
    ageMs: undefined,
    branches: [],
    warnings: [],
  }
  if ('left' in resolved) {
    return {
      ...base,
      decision: 'none',
      reason: resolved.reason,
      action: 'left',
      left: resolved.left,
    }
  }
  const outcome = resolved.row?.outcome
  if (outcome !== 'C' && outcome !== 'A') {
    return {
      ...base,
      decision: 'none',
      reason: 'its staged decision was resolved and collected by another session meanwhile',
      action: 'left',
      left: 'in-use',
    }
  }
  // Nothing was prepared: the row now says what happened everywhere.
  const decision = outcome === 'C' ? 'commit' : 'rollback'
  return {
    ...base,
    decision,
    reason: resolved.reason,
    action: decision === 'commit' ? 'committed' : 'rolled-back',
  }
}
