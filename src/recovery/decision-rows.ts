import type { DecisionLog } from '../commit/decision-log.js'
import type { DecisionRow } from '../dialect/dialect.js'
import { withConnection } from '../driver/with-connection.js'
import { DecisionLogMissingError } from '../errors/decision-log-missing-error.js'
import { GC_BATCH } from './collect-garbage.js'
import { missingTable } from './left-alone.js'

export const READ_BATCH = 500
export async function readOldRows(
  decisionLog: DecisionLog,
  minAge: number,
): Promise<DecisionRow[]> {
  return withConnection(decisionLog.database, (connection) =>
    decisionLog.database.dialect.readOldDecisions(connection, decisionLog.table, minAge, GC_BATCH),
  ).catch(() => [])
}

/**
 * Starts reading the decision rows of `gtrids` in batches of {@link READ_BATCH}, a few at a time;
 * returns one promise per batch, in order.
 */
export function readRowsInBatches(
  decisionLog: DecisionLog,
  gtrids: readonly string[],
): Array<Promise<Map<string, DecisionRow>>> {
  const lanes: Array<Promise<unknown>> = [Promise.resolve(), Promise.resolve(), Promise.resolve()]
  const batches: Array<Promise<Map<string, DecisionRow>>> = []
  for (let start = 0; start < gtrids.length; start += READ_BATCH) {
    const lane = batches.length % lanes.length
    const read = (lanes[lane] as Promise<unknown>).then(() =>
      readRows(decisionLog, gtrids.slice(start, start + READ_BATCH)),
    )
    // A failed batch fails its own transactions only; the lane goes on.
    lanes[lane] = read.catch(() => undefined)
    batches.push(read)
  }
  return batches
}

export async function readRows(
  decisionLog: DecisionLog,
  gtrids: readonly string[],
): Promise<Map<string, DecisionRow>> {
  const rows = await withConnection(decisionLog.database, (connection) =>
    decisionLog.database.dialect.readDecisions(connection, decisionLog.table, gtrids),
  ).catch((error: unknown) => {
    if (!decisionLog.database.dialect.isUndefinedTable(error)) throw error
    throw new DecisionLogMissingError(
      decisionLog.database.name,
      decisionLog.tableText,
      missingTable(decisionLog),
      { cause: error },
    )
  })
  return new Map(rows.map((row) => [row.gtrid, row]))
}

export function names(row: DecisionRow | undefined): string[] {
  if (row === undefined) return []
  try {
    const parsed: unknown = JSON.parse(row.participants)
    // Positions matter (they are branch indexes): an unused index stays as an empty name.
    return Array.isArray(parsed) ? parsed.map((name) => (typeof name === 'string' ? name : '')) : []
  } catch {
    return []
  }
}
