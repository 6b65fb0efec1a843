import { withConnection } from '../../database/with-connection.js'
import type { DecisionRow } from '../../dialect/dialect.js'
import type { DecisionLog } from '../../records/decision-log.js'
import { readRows } from '../../records/decision-rows.js'
import type { FinishStaged } from '../commit-protocol.js'
import { finishGroup } from '../finish-group.js'
import type { FoundBranch } from '../found-branch.js'
import { ageOf, leftAlone } from '../left-alone.js'
import type { TransactionRecovery } from '../recovery-report.js'
import type { Settings } from '../recovery-settings.js'

/**
 * Finishes a decision-protocol transaction by its decision row: commit on 'C', roll back on 'A';
 * with no row, record 'A' unless the coordinator's decision is still open (its row locked).
 */
export async function recoverDecision(
  group: readonly FoundBranch[],
  /** Its decision row as read before this round's work began; undefined when there was none. */
  rowRead: DecisionRow | undefined,
  /** When the decision table was created, by the decision database's clock, where known. */
  createdAt: number | undefined,
  settings: Settings,
  /** The log the transaction's id names. */
  decisionLog: DecisionLog,
  /** A row reading 'S' is a parallel transaction's: its rules finish it. */
  finishStaged: FinishStaged,
): Promise<TransactionRecovery> {
  const first = group[0]
  if (first === undefined) throw new TypeError('empty group')
  const gtrid = first.parsed.gtrid
  const age = ageOf(group)
  let row = rowRead
  if (age !== undefined && age < settings.minAge) {
    // Left alone, but its decision (if any) is shown: a 'C' row means it will commit.
    return leftAlone(
      group,
      'decision',
      'too-young',
      `younger than minAge (${settings.minAge} ms)`,
      row === undefined || row.outcome === 'S'
        ? 'none'
        : row.outcome === 'C'
          ? 'commit'
          : 'rollback',
    )
  }
  if (row?.outcome === 'S') return finishStaged(group, row, settings, decisionLog)
  let reason: string
  const startedAt = first.parsed.startedAt
  if (row !== undefined) {
    reason = row.outcome === 'C' ? "decision row 'C': commit" : "decision row 'A': roll back"
  } else if (createdAt === undefined || startedAt === undefined || startedAt < createdAt) {
    // Its decision cannot be in this table: it may be in a lost one, or in another database.
    return leftAlone(
      group,
      'decision',
      'older-than-decision-log',
      createdAt === undefined
        ? `no decision row, and the decision table ${decisionLog.tableText} carries no creation time, so recovery cannot tell whether the transaction began before it existed: run \`txkit init\` (or coordinator.createDecisionLog()) once to stamp it, then recover again`
        : `no decision row, but the transaction began (${new Date(startedAt ?? 0).toISOString()}) before the decision table ${decisionLog.tableText} existed (${new Date(createdAt).toISOString()}): its decision may be in another or a lost decision table. No abort is recorded; find its decision, or record it by hand`,
    )
  } else if (settings.dryRun) {
    return finishGroup(
      group,
      'rollback',
      'no decision row: an abort decision would be recorded',
      undefined,
      settings,
      'parallel',
    )
  } else {
    const participants = JSON.stringify([...new Set(group.map((branch) => branch.database.name))])
    const inserted = await withConnection(decisionLog.database, (connection) =>
      decisionLog.database.dialect.insertAbortDecision(
        connection,
        decisionLog.table,
        gtrid,
        participants,
        settings.lockTimeout,
      ),
    )
    if (inserted === 'busy') {
      return leftAlone(
        group,
        'decision',
        'decision-open',
        "the coordinator's commit decision is still open (its row is locked): it is alive",
      )
    }
    if (inserted === 'inserted') {
      reason = "no decision row: recorded 'A', roll back"
    } else {
      row = (await readRows(decisionLog, [gtrid])).get(gtrid)
      // A parallel transaction's staged row, inserted since the first read: never an abort as it
      // stands (its coordinator may be committing by its own answers); resolved by the fences.
      if (row?.outcome === 'S') return finishStaged(group, row, settings, decisionLog)
      if (row === undefined) {
        // A decision row is removed only once every branch is finished: it came and went.
        return leftAlone(
          group,
          'decision',
          'in-use',
          'another session decided and finished it meanwhile (its decision row came and went)',
        )
      }
      reason = `a decision was recorded concurrently ('${row.outcome}')`
    }
  }
  return finishGroup(
    group,
    row?.outcome === 'C' ? 'commit' : 'rollback',
    reason,
    row,
    settings,
    'parallel',
  )
}
