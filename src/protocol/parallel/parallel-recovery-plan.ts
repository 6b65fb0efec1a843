import type { RecoveryRound, RecoveryRules, RecoveryWork } from '../commit-protocol.js'
import { collectFences } from './collect-fences.js'
import { finishStaged } from './parallel-recovery.js'

/**
 * The parallel protocol's recovery rules (model/parallel.pml). Its ids are decision ids, so the
 * decision rules meet its transactions first and hand those whose row reads 'S' to
 * `finishStaged`; planned here are the staged rows older than `minAge` with no prepared branch
 * left (their coordinator stopped before any PREPARE, or after every branch committed).
 */
export const parallelRecovery: RecoveryRules = {
  kind: 'decision',
  scansTwice: false,
  plan,
  finishStaged,
  collectFences,
}

async function plan(round: RecoveryRound): Promise<RecoveryWork[]> {
  const { settings, groups } = round
  const { decisionLog } = settings
  // Staged rows are only ever recorded in the decision log; a dry run writes nothing.
  if (decisionLog === undefined || settings.dryRun) return []
  return (round.oldRows.get(decisionLog) ?? [])
    .filter((row) => row.outcome === 'S' && !groups.has(row.gtrid))
    .map((row) => ({
      gtrid: row.gtrid,
      kind: 'decision' as const,
      group: [],
      run: () => finishStaged([], row, settings, decisionLog),
    }))
}
