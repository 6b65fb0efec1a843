import { finishGroup } from '../finish-group.js'
import type { FoundBranch } from '../found-branch.js'
import { leftAlone } from '../left-alone.js'
import type { TransactionRecovery } from '../recovery-report.js'
import type { Settings } from '../recovery-settings.js'

/**
 * sqlalchemy-xa-recovery's rule, on a group unchanged between two scans `minAge` apart: prepared
 * branches forming a suffix commit in ascending order, a prefix rolls back in descending order.
 */
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
      'one-by-one',
    )
  }
  if (isPrefix) {
    return finishGroup(
      group,
      'rollback',
      `prepared branches ${shape} form a prefix: roll back in descending order`,
      undefined,
      settings,
      'one-by-one',
    )
  }
  return invalid(`prepared branches ${shape} are neither a prefix nor a suffix`)
}
