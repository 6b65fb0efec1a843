import type { RecoveryRound, RecoveryRules, RecoveryWork } from '../commit-protocol.js'
import { leftAlone } from '../left-alone.js'
import { recoverSequential } from './sequential-recovery.js'

/**
 * The sequential protocol's recovery rules: no decision is recorded, so a transaction is finished
 * only once two scans `minAge` apart found the same prepared branches (no coordinator at work).
 */
export const sequentialRecovery: RecoveryRules = {
  kind: 'sequential',
  scansTwice: true,
  plan,
}

async function plan(round: RecoveryRound): Promise<RecoveryWork[]> {
  const work: RecoveryWork[] = []
  for (const [gtrid, group] of round.groups) {
    if (group[0]?.parsed.kind !== 'sequential') continue
    const stable = round.stable.get(gtrid)
    work.push({
      gtrid,
      kind: 'sequential',
      group,
      run: async () =>
        stable === undefined
          ? leftAlone(
              group,
              'sequential',
              'unstable',
              'its prepared branches changed between the two scans: a coordinator is still working',
            )
          : recoverSequential(stable, round.settings),
    })
  }
  return work
}
