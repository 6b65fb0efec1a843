import { withConnection } from '../../database/with-connection.js'
import type { DecisionLogState } from '../../dialect/dialect.js'
import type { DecisionLog } from '../../records/decision-log.js'
import { missingTable, RowReads } from '../../records/decision-rows.js'
import type { RecoveryRound, RecoveryRules, RecoveryWork } from '../commit-protocol.js'
import type { FoundBranch } from '../found-branch.js'
import { leftAlone, notConfigured } from '../left-alone.js'
import type { Settings } from '../recovery-settings.js'
import { recoverDecision } from './decision-recovery.js'

/**
 * The decision protocol's recovery rules: every transaction with a decision id is read in the
 * decision log its id names and finished by its row (a row reading 'S' goes to the rules that
 * stage decisions).
 */
export const decisionRecovery: RecoveryRules = {
  kind: 'decision',
  scansTwice: false,
  plan,
}

async function plan(round: RecoveryRound): Promise<RecoveryWork[]> {
  const { settings } = round
  const work: RecoveryWork[] = []
  // Each transaction's decision is read in the log its id names.
  const groupsByLog = new Map<DecisionLog, FoundBranch[][]>()
  for (const [gtrid, group] of round.groups) {
    if (group[0]?.parsed.kind !== 'decision') continue
    const log = logNamedBy(group, settings)
    if (log === undefined) {
      work.push({ gtrid, kind: 'decision', group, run: async () => notConfigured(group, settings) })
      continue
    }
    const known = groupsByLog.get(log)
    if (known === undefined) groupsByLog.set(log, [group])
    else known.push(group)
  }
  // Whether each table exists, and since when, decides what recovery may do with its transactions.
  const tables = new Map(
    await Promise.all(
      [...groupsByLog.keys()].map(async (log) => [log, await describeTable(log)] as const),
    ),
  )
  for (const [log, logGroups] of groupsByLog) {
    const table = tables.get(log) as LogTable
    for (const group of logGroups) {
      const gtrid = group[0]?.parsed.gtrid ?? ''
      work.push({
        gtrid,
        kind: 'decision',
        group,
        ...(table.rows !== undefined && { rows: table.rows }),
        run: async () => {
          if ('error' in table) throw table.error
          if (table.state === undefined || table.rows === undefined) {
            return leftAlone(group, 'decision', 'decision-table-missing', missingTable(log))
          }
          const row = await table.rows.take(gtrid)
          return recoverDecision(
            group,
            row,
            table.state.createdAt,
            settings,
            log,
            round.finishStaged,
          )
        },
      })
    }
  }
  return work
}

/** A decision log's table as a round found it, and its rows' reads. */
type LogTable =
  | { readonly error: unknown; readonly state?: undefined; readonly rows?: undefined }
  | {
      readonly state: DecisionLogState | undefined
      readonly rows: RowReads | undefined
      readonly error?: undefined
    }

async function describeTable(log: DecisionLog): Promise<LogTable> {
  try {
    const state = await withConnection(log.database, (connection) =>
      log.database.dialect.describeDecisionLog(connection, log.table),
    )
    return { state, rows: state === undefined ? undefined : new RowReads(log) }
  } catch (error) {
    return { error }
  }
}

/**
 * The configured log a transaction's id names: by its tag, or, for an id from before ids named
 * their log, the decision log.
 */
function logNamedBy(group: readonly FoundBranch[], settings: Settings): DecisionLog | undefined {
  const tag = group[0]?.parsed.decisionLog
  if (tag === undefined) return settings.decisionLog
  return settings.decisionLogs.find((log) => log.tag === tag)
}
