import { withConnection } from '../database/with-connection.js'
import type { DecisionRow } from '../dialect/dialect.js'
import { DecisionLogMissingError } from '../errors/decision-log-missing-error.js'
import type { DecisionLog } from './decision-log.js'

/** Most old decision rows (and fence rows) a recovery round reads and deletes. */
export const GC_BATCH = 1000
/** How long past the deadline a record is kept before it is collected. */
export const GC_MARGIN_MS = 60_000
export const READ_BATCH = 500

/**
 * Why a missing decision table stops recovery. Never "create it": at recovery time a missing table
 * means the wrong database or a lost table, and a new empty one would let recovery record aborts
 * for transactions whose commit decision is elsewhere.
 */
export function missingTable(decisionLog: DecisionLog): string {
  return (
    `the decision table ${decisionLog.tableText} does not exist in database "${decisionLog.database.name}": ` +
    'recovery was pointed at the wrong database or table, or the table was lost. Do not create it: ' +
    "point recovery at the decision log the writers record in (a transaction's id names it after its random part)."
  )
}

export async function readOldRows(
  decisionLog: DecisionLog,
  minAge: number,
): Promise<DecisionRow[]> {
  return withConnection(decisionLog.database, (connection) =>
    decisionLog.database.dialect.readOldDecisions(connection, decisionLog.table, minAge, GC_BATCH),
  ).catch(() => [])
}

/**
 * Decision rows read ahead of the transactions that need them, in batches of {@link READ_BATCH},
 * a few batches at a time. Each row is handed out once and then forgotten, so that memory holds
 * the rows of the work asked for, not of the whole round.
 */
export class RowReads {
  readonly #decisionLog: DecisionLog
  readonly #batchOf = new Map<string, Promise<Map<string, DecisionRow>>>()
  readonly #lanes: Array<Promise<unknown>> = [
    Promise.resolve(),
    Promise.resolve(),
    Promise.resolve(),
  ]
  #batches = 0

  constructor(decisionLog: DecisionLog) {
    this.#decisionLog = decisionLog
  }

  /** Starts reading the rows of `gtrids` (in the background). */
  request(gtrids: readonly string[]): void {
    for (let start = 0; start < gtrids.length; start += READ_BATCH) {
      const batch = gtrids.slice(start, start + READ_BATCH)
      const lane = this.#batches++ % this.#lanes.length
      const read = (this.#lanes[lane] as Promise<unknown>).then(() =>
        readRows(this.#decisionLog, batch),
      )
      // A failed batch fails its own transactions only; the lane goes on.
      this.#lanes[lane] = read.catch(() => undefined)
      for (const gtrid of batch) this.#batchOf.set(gtrid, read)
    }
  }

  /** The decision row of `gtrid` (undefined: none), read with its batch or, if not asked for, alone. */
  async take(gtrid: string): Promise<DecisionRow | undefined> {
    const batch = this.#batchOf.get(gtrid)
    this.#batchOf.delete(gtrid)
    const rows = await (batch ?? readRows(this.#decisionLog, [gtrid]))
    const row = rows.get(gtrid)
    rows.delete(gtrid)
    return row
  }
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

/**
 * The participants' names at their branch index (an unused index is an empty name): a JSON array,
 * or in a staged row `{ branches, fenceTable }` (see `stagedParticipantsOf`).
 */
export function names(row: DecisionRow | undefined): string[] {
  const parsed = parseParticipants(row)
  const branches = Array.isArray(parsed) ? parsed : isObject(parsed) ? parsed.branches : undefined
  if (!Array.isArray(branches)) return []
  return branches.map((name: unknown) => (typeof name === 'string' ? name : ''))
}

/** The fence table a staged row's branches put their fences in; undefined when not recorded. */
export function fenceTableOf(row: DecisionRow): string | undefined {
  const parsed = parseParticipants(row)
  return isObject(parsed) && typeof parsed.fenceTable === 'string' ? parsed.fenceTable : undefined
}

function parseParticipants(row: DecisionRow | undefined): unknown {
  if (row === undefined) return undefined
  try {
    return JSON.parse(row.participants)
  } catch {
    return undefined
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
