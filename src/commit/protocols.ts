import type { CommitProtocol, FinishStaged, RecoveryRules } from '../protocol/commit-protocol.js'
import { decisionProtocol } from '../protocol/decision/decision-protocol.js'
import { parallelProtocol } from '../protocol/parallel/parallel-protocol.js'
import { sequentialProtocol } from '../protocol/sequential/sequential-protocol.js'
import type { CommitProtocolName } from '../xid/xid.js'

/** Every commit protocol, by the name `createCoordinator({ protocol })` takes. */
export const PROTOCOLS: Readonly<Record<CommitProtocolName, CommitProtocol>> = {
  decision: decisionProtocol,
  parallel: parallelProtocol,
  sequential: sequentialProtocol,
}

/** Every protocol's recovery rules, in the order a round plans them. */
export const RECOVERY_RULES: readonly RecoveryRules[] = Object.values(PROTOCOLS).map(
  (protocol) => protocol.recovery,
)

/** How a transaction whose decision row reads 'S' is finished: by the rules that stage decisions. */
export const finishStaged: FinishStaged = (() => {
  const rules = RECOVERY_RULES.find((each) => each.finishStaged !== undefined)
  if (rules?.finishStaged === undefined) throw new TypeError('no protocol stages its decisions')
  return rules.finishStaged
})()
