import { withConnection } from '../database/with-connection.js'
import type { DecisionRow } from '../dialect/dialect.js'
import type { Settings } from '../protocol/recovery-settings.js'
import type { DecisionLog } from '../records/decision-log.js'
import { GC_MARGIN_MS, names } from '../records/decision-rows.js'
import { errorMessage } from '../util/error-message.js'
import { parseXid } from '../xid/xid.js'

/**
 * Deletes decision rows no longer needed, among those read before the scan: a 'C' row whose
 * transaction has no prepared branch left (once committed, its branches only disappear), an 'A'
 * row once no coordinator may still record a commit for it (past its deadline by the database's
 * clock). Only when every participant is configured and every database was scanned. Rows of
 * transactions finished in this round go in a later round, once they are older than the scan.
 */
export async function collectGarbage(
  decisionLog: DecisionLog,
  oldRows: readonly DecisionRow[],
  /** The gtrids the scan found prepared branches of. */
  prepared: { has(gtrid: string): boolean },
  scanComplete: boolean,
  settings: Settings,
): Promise<number> {
  if (!scanComplete || oldRows.length === 0) return 0
  const configured = new Set(settings.databases.map((database) => database.name))
  const allConfigured = (row: DecisionRow) =>
    names(row).every((name) => name === '' || configured.has(name))
  try {
    return await withConnection(decisionLog.database, async (connection) => {
      const now = await decisionLog.database.dialect.now(connection)
      const deletable = oldRows.filter((row) => {
        // A staged row is resolved first, never collected.
        if (row.outcome === 'S' || prepared.has(row.gtrid) || !allConfigured(row)) return false
        if (row.outcome === 'C') return true
        const startedAt = startTimeOf(row.gtrid, settings.prefix)
        return (
          startedAt !== undefined &&
          now > startedAt + settings.maxTransactionDuration + GC_MARGIN_MS
        )
      })
      await decisionLog.database.dialect.deleteDecisions(connection, decisionLog.table, deletable)
      return deletable.length
    })
  } catch (error) {
    settings.logger.warn(
      { error: errorMessage(error) },
      'txkit recover: could not delete old decision rows',
    )
    return 0
  }
}

/** The coordinator's start time carried by a decision-protocol gtrid. */
export function startTimeOf(gtrid: string, prefix: string): number | undefined {
  const parsed = parseXid(`${gtrid}.1.0`, prefix)
  return parsed.kind === 'decision' ? parsed.startedAt : undefined
}
