import { withConnection } from '../database/with-connection.js'
import type { DecisionRow } from '../dialect/dialect.js'
import { names } from '../records/decision-rows.js'
import { errorMessage } from '../util/error-message.js'
import type { FoundBranch } from './found-branch.js'
import { ageOf, branchName } from './left-alone.js'
import type { RecoveredBranch, TransactionRecovery } from './recovery-report.js'
import type { Settings } from './recovery-settings.js'

/** Commits or rolls back every branch of an in-doubt transaction, as its protocol's rules decided. */
export async function finishGroup(
  group: readonly FoundBranch[],
  decision: 'commit' | 'rollback',
  reason: string,
  row: DecisionRow | undefined,
  settings: Settings,
  /** `one-by-one` in the seed's order, stopping at the first branch not finished; or in parallel. */
  order: 'one-by-one' | 'parallel',
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
  if (order === 'one-by-one') {
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
