import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { DecisionOutcome } from '../dialect/dialect.js'
import type { HeldLock, WaitingSession } from '../dialect/prepared-detail.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { DecisionLog } from '../records/decision-log.js'
import { fenceTableOf, names, readRows } from '../records/decision-rows.js'
import { errorMessage } from '../util/error-message.js'
import { GTRID_SHAPE, type IdKind, parseGtrid, parseXid } from '../xid/xid.js'
import { checkOptions, type RecoverOptions } from './recover-options.js'

/** What `showTransaction` is asked: the deployment as for `recover()`, and one transaction. */
export interface ShowOptions
  extends Pick<
    RecoverOptions,
    'databases' | 'decisionLog' | 'decisionDatabases' | 'prefix' | 'fenceTable' | 'logger'
  > {
  /** The transaction's global id (a branch id of it is taken too). */
  readonly gtrid: string
}

/** One branch of the transaction as a database tells it. */
export interface ShownBranch {
  /** The database (of `databases`) whose server holds it prepared. */
  readonly database: string
  readonly xid: string
  readonly index: number
  /** The branch count the id carries (0: an open transaction, its decision row lists them). */
  readonly count: number
  /** The participant its decision row names at this index, when the row says. */
  readonly participant?: string
  readonly owner?: string
  readonly preparedAt?: number
  readonly locks?: readonly HeldLock[]
  readonly waiting?: readonly WaitingSession[]
  /** What this database's server does not tell of a prepared transaction. */
  readonly unknown: readonly string[]
}

/** One database of `databases`, as read for the transaction. */
export interface ShownDatabase {
  readonly name: string
  /** `prepared`: a branch of it is prepared here; `not-found`: none; `error`: could not be read. */
  readonly state: 'prepared' | 'not-found' | 'error'
  /** Set when the list of prepared transactions is server-wide and was read on another database. */
  readonly sameServerAs?: string
  readonly error?: string
}

/** Where the transaction's decision is kept, and what it is. */
export interface ShownDecision {
  /** `decision-log`: a decision row's place; `none`: the protocol records no decision. */
  readonly kept: 'decision-log' | 'none'
  /** The database keeping it (its `databases` name, or the tag its id carries when not given). */
  readonly database?: string
  readonly table?: string
  /** The row's outcome; `null` when there is no row. Absent when it could not be read. */
  readonly outcome?: DecisionOutcome | null
  /** The parallel protocol's fence table a staged row names. */
  readonly fenceTable?: string
  /** Why the decision is not known. */
  readonly error?: string
  /** A word for the operator (the sequential protocol's rule, a decision log not given). */
  readonly note?: string
}

/** Everything known of one transaction (`txkit show`). */
export interface TransactionDetail {
  readonly gtrid: string
  /** From the id: `decision` (the decision and parallel protocols) or `sequential`. */
  readonly protocol: IdKind
  /** When the coordinator began it (its clock), from a decision id. */
  readonly startedAt?: number
  /** How old it is (ms): since its start, else since its first branch was prepared; if known. */
  readonly ageMs?: number
  /**
   * `in-doubt`: a branch is prepared; `finished`: none is (or none was ever found); `unknown`: none
   * was found, but a database could not be read.
   */
  readonly state: 'in-doubt' | 'finished' | 'unknown'
  readonly branches: readonly ShownBranch[]
  readonly decision: ShownDecision
  readonly databases: readonly ShownDatabase[]
}

/**
 * Everything the databases tell of one transaction: its branches and their state per database
 * (who prepared each and when, the locks it holds and the sessions waiting behind them), its
 * decision and where it is kept, its protocol and age. Changes nothing.
 *
 * @throws ConfigurationError when `gtrid` is not a txkit transaction id, or its prefix is not `prefix`.
 * @example
 * ```ts
 * const detail = await showTransaction({ databases: { orders, ledger }, decisionLog: orders, gtrid })
 * for (const branch of detail.branches) console.log(branch.database, branch.waiting?.length)
 * ```
 */
export async function showTransaction(options: ShowOptions): Promise<TransactionDetail> {
  const id = typeof options?.gtrid === 'string' ? parseGtrid(options.gtrid) : undefined
  if (id === undefined) {
    throw new ConfigurationError(
      `"${String(options?.gtrid).slice(0, 80)}" is not a txkit transaction id: ${GTRID_SHAPE}.`,
    )
  }
  if (options.prefix !== undefined && options.prefix !== id.prefix) {
    throw new ConfigurationError(
      `The transaction id's prefix is "${id.prefix}", not the prefix "${options.prefix}" given.`,
    )
  }
  const { gtrid: _gtrid, ...deployment } = options
  const settings = checkOptions({ ...deployment, prefix: id.prefix, protocol: 'sequential' })
  const found = await findBranches(settings.databases, id.gtrid, id.prefix)
  const decisionLog =
    id.kind === 'sequential'
      ? undefined
      : id.decisionLog === undefined
        ? settings.decisionLog
        : settings.decisionLogs.find((log) => log.tag === id.decisionLog)
  const decision =
    id.kind === 'sequential'
      ? {
          kept: 'none' as const,
          note: 'the sequential protocol records no decision: recovery judges from which branches are prepared (a prefix of them rolls back, a suffix commits)',
        }
      : await readDecision(decisionLog, id.gtrid, id.decisionLog)
  const participants = decision.names ?? []
  const branches = found.branches
    .map((branch) => {
      const participant = participants[branch.index]
      return participant ? { ...branch, participant } : branch
    })
    .sort((a, b) => a.index - b.index || a.database.localeCompare(b.database))
  const { names: _names, ...shownDecision } = decision
  const firstPrepared = Math.min(...branches.map((branch) => branch.preparedAt ?? Infinity))
  const since = id.startedAt ?? (Number.isFinite(firstPrepared) ? firstPrepared : undefined)
  return {
    gtrid: id.gtrid,
    protocol: id.kind,
    ...(id.startedAt !== undefined && { startedAt: id.startedAt }),
    ...(since !== undefined && { ageMs: Math.max(0, Date.now() - since) }),
    state:
      branches.length > 0
        ? 'in-doubt'
        : found.databases.some((each) => each.state === 'error')
          ? 'unknown'
          : 'finished',
    branches,
    decision: shownDecision,
    databases: found.databases,
  }
}

async function readDecision(
  decisionLog: DecisionLog | undefined,
  gtrid: string,
  tag: string | undefined,
): Promise<ShownDecision & { names?: string[] }> {
  if (decisionLog === undefined) {
    return {
      kept: 'decision-log',
      ...(tag !== undefined && { database: tag }),
      error:
        tag === undefined
          ? 'its id names no decision log and none was given: pass the writers’ decision log'
          : `its id names the decision log "${tag}", which was not given: pass it (the database named "${tag.replace(/~.*$/, '')}", with its table) as the decision log or one of the decision databases`,
    }
  }
  const where = {
    kept: 'decision-log' as const,
    database: decisionLog.database.name,
    table: decisionLog.tableText,
  }
  try {
    const row = (await readRows(decisionLog, [gtrid])).get(gtrid)
    if (row === undefined) return { ...where, outcome: null }
    const fenceTable = row.outcome === 'S' ? fenceTableOf(row) : undefined
    return {
      ...where,
      outcome: row.outcome,
      ...(fenceTable !== undefined && { fenceTable }),
      names: names(row),
    }
  } catch (error) {
    return { ...where, error: `(${decisionLog.database.identity}) ${errorMessage(error)}` }
  }
}

/** Our branches of `gtrid`, per database; a server-wide list is read once per server. */
async function findBranches(
  databases: readonly Database[],
  gtrid: string,
  prefix: string,
): Promise<{ branches: ShownBranch[]; databases: ShownDatabase[] }> {
  const servers = new Map<string, string>()
  const read = await Promise.all(
    databases.map(async (database): Promise<{ shown: ShownDatabase; branches: ShownBranch[] }> => {
      if (database.dialect.preparedListScope === 'server') {
        const server = database.identity.replace(/\/[^/]*$/, '')
        const first = servers.get(server)
        if (first !== undefined) {
          return {
            shown: { name: database.name, state: 'not-found', sameServerAs: first },
            branches: [],
          }
        }
        servers.set(server, database.name)
      }
      try {
        const branches = await withConnection(database, (connection) =>
          branchesOn(database, connection, gtrid, prefix),
        )
        return {
          shown: { name: database.name, state: branches.length > 0 ? 'prepared' : 'not-found' },
          branches,
        }
      } catch (error) {
        return {
          shown: {
            name: database.name,
            state: 'error',
            // The identity names the host (never a password), so that an operator knows where.
            error: `(${database.identity}) could not be read: ${errorMessage(error)}`,
          },
          branches: [],
        }
      }
    }),
  )
  return {
    branches: read.flatMap((each) => each.branches),
    databases: read.map((each) => each.shown),
  }
}

async function branchesOn(
  database: Database,
  connection: Parameters<Database['dialect']['listPrepared']>[0],
  gtrid: string,
  prefix: string,
): Promise<ShownBranch[]> {
  const ours = (await database.dialect.listPrepared(connection)).flatMap((prepared) => {
    const parsed = parseXid(prepared.xid, prefix)
    return parsed.kind !== 'malformed' && parsed.kind !== 'foreign' && parsed.gtrid === gtrid
      ? [{ prepared, parsed }]
      : []
  })
  if (ours.length === 0) return []
  const detail = database.dialect.preparedDetail
  const details =
    detail === undefined
      ? []
      : await detail.describePrepared(
          connection,
          ours.map(({ prepared }) => prepared.xid),
        )
  return ours.map(({ prepared, parsed }) => {
    const known = details.find((each) => each.xid === prepared.xid)
    const preparedAt = known?.preparedAt ?? prepared.preparedAt
    return {
      database: database.name,
      xid: prepared.xid,
      index: parsed.index,
      count: parsed.count,
      ...(known?.owner !== undefined && { owner: known.owner }),
      ...(preparedAt !== undefined && { preparedAt }),
      ...(known?.locks !== undefined && { locks: known.locks }),
      ...(known?.waiting !== undefined && { waiting: known.waiting }),
      unknown: known?.unknown ?? [
        `${database.dialect.displayName} tells nothing more of a prepared transaction here than its id`,
      ],
    }
  })
}
