import { withConnection } from '../../database/with-connection.js'
import type { DecisionRow } from '../../dialect/dialect.js'
import type { FenceClaim } from '../../dialect/fence-dialect.js'
import type { DecisionLog } from '../../records/decision-log.js'
import { fenceTableOf, names, readRows } from '../../records/decision-rows.js'
import type { FoundBranch } from '../found-branch.js'
import type { LeftReason } from '../recovery-report.js'
import type { Settings } from '../recovery-settings.js'

/** A staged decision resolved (the row as it now reads), or why it was left. */
export type StagedResolution =
  | { readonly row: DecisionRow | undefined; readonly reason: string }
  | { readonly left: LeftReason; readonly reason: string }

/**
 * Resolves a staged decision ('S', parallel protocol; model/parallel.pml): 'C' when every branch was
 * prepared in the scan or is committed; 'A' once the fence of a branch neither prepared nor
 * committed is claimed, so that it can never be prepared; left while a live branch holds its fence.
 * Fences are claimed only in the fence table the row records: in any other table a claim succeeds
 * while the branch lives. The row changes only from 'S': whatever the row says afterwards is followed.
 */
export async function resolveStaged(
  row: DecisionRow,
  prepared: readonly FoundBranch[],
  settings: Settings,
  /** The log holding the staged row. */
  decisionLog: DecisionLog,
): Promise<StagedResolution> {
  const participants = names(row)
  const preparedIndexes = new Set(prepared.map((branch) => branch.parsed.index))
  const unprepared = [...participants.entries()].filter(
    ([index, name]) => name !== '' && !preparedIndexes.has(index),
  )
  const recordedFenceTable = fenceTableOf(row)
  if (unprepared.length > 0 && recordedFenceTable !== settings.fenceTable.text) {
    return {
      left: 'other-fence-table',
      reason:
        recordedFenceTable === undefined
          ? `staged decision: its row does not record its fence table (written by an earlier txkit), so no fence can be claimed safely: set its participants to {"branches": ${JSON.stringify(participants)}, "fenceTable": "<the writers' fence table>"} and recover again`
          : `staged decision: its branches' fences are in the fence table ${recordedFenceTable}, and recovery was given ${settings.fenceTable.text}: run recovery with fenceTable: '${recordedFenceTable}' (--fence-table ${recordedFenceTable})`,
    }
  }
  const claims: Array<{ readonly index: number; readonly claim: FenceClaim }> = []
  for (const [index, name] of unprepared) {
    const database = settings.databases.find((candidate) => candidate.name === name)
    const fences = database?.dialect.fences
    if (database === undefined || fences === undefined) {
      return {
        left: 'decision-open',
        reason: `staged decision: participant "${name}" is not configured (or holds no fences), so its branch's fence cannot be claimed: run recovery with every database`,
      }
    }
    const claim = await withConnection(database, (connection) =>
      fences.claim(
        connection,
        settings.fenceTable.table,
        { gtrid: row.gtrid, index },
        settings.lockTimeout,
      ),
    )
    claims.push({ index, claim })
    // One claimed fence decides: the transaction can never have every branch prepared.
    if (claim === 'claimed') break
  }
  const claimed = claims.find((each) => each.claim === 'claimed')
  const waiting = claims.find((each) => each.claim === 'busy' || each.claim === 'gone')
  if (claimed === undefined && waiting !== undefined) {
    return {
      left: 'decision-open',
      reason: `staged decision: branch ${waiting.index} is still running (its fence row is held by a live session)`,
    }
  }
  const outcome = claimed === undefined ? 'C' : 'A'
  await withConnection(decisionLog.database, (connection) =>
    decisionLog.database.dialect.resolveStagedDecision(
      connection,
      decisionLog.table,
      row.gtrid,
      outcome,
    ),
  )
  const now = (await readRows(decisionLog, [row.gtrid])).get(row.gtrid)
  const reason =
    claimed === undefined
      ? "staged decision 'S', every branch prepared or committed: recorded 'C'"
      : `staged decision 'S', branch ${claimed.index} never prepared (its fence is claimed): recorded 'A'`
  return {
    row: now,
    reason:
      now?.outcome === outcome
        ? reason
        : `staged decision resolved concurrently ('${now?.outcome ?? 'gone'}')`,
  }
}
