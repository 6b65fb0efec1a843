import type { DecisionLog } from '../commit/decision-log.js'
import type { DecisionRow } from '../dialect/dialect.js'
import { withConnection } from '../driver/with-connection.js'
import { errorMessage } from '../util/error-message.js'
import { names, readRows } from './decision-rows.js'
import { ageOf, branchName, leftAlone } from './left-alone.js'
import type { FoundBranch } from './prepared-scan.js'
import type { Settings } from './recover-options.js'
import type { RecoveredBranch, TransactionRecovery } from './recovery-report.js'
import { resolveStaged } from './resolve-staged.js'

export async function recoverDecision(
  group: readonly FoundBranch[],
  /** Its decision row as read before this round's work began; undefined when there was none. */
  rowRead: DecisionRow | undefined,
  /** When the decision table was created, by the decision database's clock, where known. */
  createdAt: number | undefined,
  settings: Settings,
  /** The log the transaction's id names. */
  decisionLog: DecisionLog,
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
  if (row?.outcome === 'S') return recoverStaged(group, row, settings, decisionLog)
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
      if (row?.outcome === 'S') return recoverStaged(group, row, settings, decisionLog)
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
  return finishGroup(group, row?.outcome === 'C' ? 'commit' : 'rollback', reason, row, settings)
}

/** A transaction with prepared branches whose row reads 'S': resolved first, then followed. */
async function recoverStaged(
  group: readonly FoundBranch[],
  row: DecisionRow,
  settings: Settings,
  decisionLog: DecisionLog,
): Promise<TransactionRecovery> {
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
  )
}

/**
 * A staged decision ('S') older than `minAge` with no branch prepared: its coordinator stopped
 * before any PREPARE succeeded, or after every branch committed. Resolved like any staged one.
 */
export async function recoverStagedRow(
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

export async function recoverSequential(
  group: readonly FoundBranch[],
  settings: Settings,
): Promise<TransactionRecovery> {
  const count = group[0]?.parsed.count ?? 0
  const indexes = [...new Set(group.map((branch) => branch.parsed.index))].sort((a, b) => a - b)
  const invalid = (why: string) => leftAlone(group, 'sequential', 'invalid-state', why)
  if (count > settings.databases.length) {
    return invalid(
      `its ids name ${count} databases but only ${settings.databases.length} are configured: pass every database of the deployment`,
    )
  }
  if (indexes.length !== group.length) {
    return invalid('the same branch index was found on two databases')
  }
  const isPrefix = indexes[0] === 0 && indexes.every((index, position) => index === position)
  const isSuffix = indexes.every((index, position) => index === count - indexes.length + position)
  const shape = `[${indexes.join(', ')}] of ${count}`
  if (isSuffix) {
    return finishGroup(
      group,
      'commit',
      `prepared branches ${shape} form a suffix: commit in ascending order`,
      undefined,
      settings,
    )
  }
  if (isPrefix) {
    return finishGroup(
      group,
      'rollback',
      `prepared branches ${shape} form a prefix: roll back in descending order`,
      undefined,
      settings,
    )
  }
  return invalid(`prepared branches ${shape} are neither a prefix nor a suffix`)
}

/** Commits or rolls back every branch; sequential groups in the seed's order, others in parallel. */
export async function finishGroup(
  group: readonly FoundBranch[],
  decision: 'commit' | 'rollback',
  reason: string,
  row: DecisionRow | undefined,
  settings: Settings,
): Promise<TransactionRecovery> {
  const first = group[0]
  if (first === undefined) throw new TypeError('empty group')
  const protocol = first.parsed.kind
  const participants = names(row)
  const warnings: string[] = []
  const configured = new Set(settings.databases.map((database) => database.name))
  const missing = participants.filter((name) => name !== '' && !configured.has(name))
  if (missing.length > 0) {
    warnings.push(
      `participant(s) ${missing.map((name) => `"${name}"`).join(', ')} are not configured: their branches wait for a recovery that knows them`,
    )
  }
  const ordered = [...group].sort((a, b) =>
    decision === 'commit' ? a.parsed.index - b.parsed.index : b.parsed.index - a.parsed.index,
  )
  const finishOne = async (branch: FoundBranch): Promise<RecoveredBranch> => {
    const base = {
      database: branchName(branch, participants),
      xid: branch.xid,
      index: branch.parsed.index,
    }
    if (settings.dryRun) {
      return { ...base, outcome: decision === 'commit' ? 'would-commit' : 'would-roll-back' }
    }
    try {
      const answer = await withConnection(branch.database, (connection) =>
        decision === 'commit'
          ? branch.database.dialect.commitPrepared(connection, branch.xid)
          : branch.database.dialect.rollbackPrepared(connection, branch.xid),
      )
      if (answer === 'busy') {
        return {
          ...base,
          outcome: 'left',
          left: 'in-use',
          error: 'another session is finishing it',
        }
      }
      if (answer === 'not-found' && branch.database.dialect.preparedBranchMayStayAttached) {
        return {
          ...base,
          outcome: 'left',
          left: 'attached-to-live-session',
          error: 'still attached to the session that prepared it (or finished concurrently)',
        }
      }
      return { ...base, outcome: decision === 'commit' ? 'committed' : 'rolled-back' }
    } catch (error) {
      return { ...base, outcome: 'failed', error: errorMessage(error) }
    }
  }
  const branches: RecoveredBranch[] = []
  if (protocol === 'sequential') {
    for (const branch of ordered) {
      const result = await finishOne(branch)
      branches.push(result)
      // The seed's order matters: stop at the first branch that did not finish.
      if (result.outcome === 'failed' || result.outcome === 'left') break
    }
    for (const branch of ordered.slice(branches.length)) {
      branches.push({
        database: branch.database.name,
        xid: branch.xid,
        index: branch.parsed.index,
        outcome: 'left',
      })
    }
  } else {
    branches.push(...(await Promise.all(ordered.map(finishOne))))
  }
  const failed = branches.find((branch) => branch.outcome === 'failed')
  const attached = branches.some((branch) => branch.outcome === 'left')
  const done = decision === 'commit' ? 'committed' : 'rolled-back'
  return {
    gtrid: first.parsed.gtrid,
    protocol,
    ageMs: ageOf(group),
    branches,
    decision,
    reason,
    action: settings.dryRun
      ? decision === 'commit'
        ? 'would-commit'
        : 'would-roll-back'
      : failed
        ? 'failed'
        : attached
          ? 'left'
          : done,
    ...(failed && { error: failed.error }),
    ...(!failed && attached && { left: branches.find((branch) => branch.left)?.left ?? 'in-use' }),
    warnings,
  }
}
