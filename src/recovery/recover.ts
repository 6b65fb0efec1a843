import { DecisionLog, type DecisionLogOptions } from '../commit/decision-log.js'
import type { DecisionRow, PreparedTransaction } from '../dialect/dialect.js'
import { assertDatabase } from '../driver/assert-database.js'
import type { Database } from '../driver/database.js'
import { validateDatabaseName } from '../driver/database-name.js'
import { withConnection } from '../driver/with-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { DecisionLogMissingError } from '../errors/decision-log-missing-error.js'
import { startSpan } from '../tracing/span.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { errorMessage } from '../util/error-message.js'
import { type Logger, silentLogger } from '../util/logger.js'
import { mapConcurrent } from '../util/map-concurrent.js'
import { sleep } from '../util/sleep.js'
import { DEFAULT_PREFIX, validatePrefix } from '../xid/deployment-prefix.js'
import { type CommitProtocolName, type OurXid, parseXid } from '../xid/xid.js'
import type {
  LeftReason,
  MalformedPrepared,
  RecoveredBranch,
  RecoveryReport,
  ScannedDatabase,
  TransactionRecovery,
} from './recovery-report.js'

export interface RecoverOptions {
  /**
   * Every database that can take part in the deployment's transactions, by the same stable names
   * the writers use. A record (`{ orders, ledger }`) or a list of databases.
   */
  readonly databases: Readonly<Record<string, Database>> | readonly Database[]
  /** The decision log the writers use. Required for the `decision` protocol. */
  readonly decisionLog?: Database | DecisionLogOptions
  /** The writers' prefix; default `txkit`. Transactions with any other prefix are never touched. */
  readonly prefix?: string
  /** Which transactions to recover; default `decision` with a decision log, else `sequential`. */
  readonly protocol?: CommitProtocolName | 'all'
  /**
   * Leave transactions younger than this alone (ms, default 15 000). For `decision` this only
   * spares healthy in-flight transactions, safety never depends on it. For `sequential` it is the
   * seed's grace period between the two scans, and its only protection.
   */
  readonly minAge?: number
  /** Report what would be done, change nothing. */
  readonly dryRun?: boolean
  /** Stops between transactions; the report says `aborted`. */
  readonly signal?: AbortSignal
  readonly logger?: Logger
  /** Transactions finished at once (default 8). */
  readonly concurrency?: number
  /** How long an abort decision waits for a coordinator's open commit decision (ms, default 1000). */
  readonly lockTimeout?: number
  /**
   * The writers' `maxTransactionDuration` (ms, default one hour) or more: abort decisions are kept
   * until no coordinator may still record a commit for them.
   */
  readonly maxTransactionDuration?: number
}

/** One prepared branch of ours, as found by a scan. */
interface FoundBranch {
  readonly database: Database
  readonly xid: string
  readonly parsed: OurXid
  readonly preparedAt: number | undefined
}

interface Scan {
  readonly branches: FoundBranch[]
  readonly malformed: MalformedPrepared[]
  readonly databases: ScannedDatabase[]
  readonly complete: boolean
}

const DEFAULT_MIN_AGE_MS = 15_000
const GC_BATCH = 1000
const READ_BATCH = 500
const GC_MARGIN_MS = 60_000

/**
 * Finishes the transactions a crash left prepared, never splitting one. `decision` transactions
 * follow their decision row (commit on 'C', roll back on 'A'; with no row, record 'A' unless the
 * coordinator's decision is still open). `sequential` transactions follow sqlalchemy-xa-recovery's
 * rule after two scans `minAge` apart. One failing transaction never stops the others; an
 * unreachable database is reported and the rest recovered. Safe to run from several processes at
 * once and while writers are live.
 *
 * @example
 * ```ts
 * import { recover } from 'txkit'
 *
 * const report = await recover({ databases: { orders, ledger }, decisionLog: orders, prefix: 'billing' })
 * for (const tx of report.transactions) console.log(tx.gtrid, tx.action, tx.reason)
 * ```
 */
export async function recover(options: RecoverOptions): Promise<RecoveryReport> {
  const settings = checkOptions(options)
  const span = startSpan('txkit.recovery.round', {
    'txkit.transaction.prefix': settings.prefix,
    'txkit.recovery.dry_run': settings.dryRun,
  })
  try {
    const report = await recoverRound(settings)
    span?.set({
      'txkit.recovery.committed': report.counts.committed,
      'txkit.recovery.rolled_back': report.counts.rolledBack,
      'txkit.recovery.left': report.counts.left,
      'txkit.recovery.failed': report.counts.failed,
    })
    span?.end()
    return report
  } catch (error) {
    span?.end(error)
    throw error
  }
}

async function recoverRound(settings: Settings): Promise<RecoveryReport> {
  const started = Date.now()
  const { databases, decisionLog, logger, signal } = settings
  // Old decision rows are read before the scan: once a commit decision exists, its prepared
  // branches only ever disappear, so a row whose branches the later scan does not find is finished.
  const oldRows =
    decisionLog && !settings.dryRun ? await readOldRows(decisionLog, settings.minAge) : []
  const first = await scan(databases, settings.prefix)
  let latest = first
  let sequentialStable: Map<string, FoundBranch[]> = new Map()
  const sequentialFound = first.branches.some((branch) => branch.parsed.kind === 'sequential')
  if (settings.protocols.has('sequential') && sequentialFound) {
    await sleep(settings.minAge, signal)
    latest = await scan(databases, settings.prefix)
    sequentialStable = stableGroups(first.branches, latest.branches)
  }
  const groups = groupBy(latest.branches, (branch) => branch.parsed.gtrid)
  const transactions: TransactionRecovery[] = []
  let aborted = false

  const work: Array<{ group: FoundBranch[]; run: () => Promise<TransactionRecovery> }> = []
  for (const group of groups.values()) {
    const kind = group[0]?.parsed.kind ?? 'decision'
    if (!settings.protocols.has(kind)) {
      work.push({ group, run: async () => notSelected(group, kind, settings) })
    }
  }
  const decisionGroups = [...groups.values()].filter(
    (group) => group[0]?.parsed.kind === 'decision' && settings.protocols.has('decision'),
  )
  if (decisionLog !== undefined && decisionGroups.length > 0) {
    // Whether the table exists, and since when, decides what recovery may do at all.
    const table = await withConnection(decisionLog.database, (connection) =>
      decisionLog.database.dialect.describeDecisionLog(connection, decisionLog.table),
    ).then(
      (state) => ({ state }),
      (error: unknown) => ({ error }),
    )
    // Decision rows are read in batches while the first transactions are already being finished.
    const rowsOf =
      'state' in table && table.state !== undefined
        ? readRowsInBatches(
            decisionLog,
            decisionGroups.map((group) => group[0]?.parsed.gtrid ?? ''),
          )
        : []
    decisionGroups.forEach((group, position) => {
      const rows = rowsOf[Math.floor(position / READ_BATCH)]
      work.push({
        group,
        run: async () => {
          const elsewhere = inOtherDecisionLog(group, decisionLog)
          if (elsewhere !== undefined) return elsewhere
          if ('error' in table) throw table.error
          if (table.state === undefined) {
            return leftAlone(group, 'decision', 'decision-table-missing', missingTable(decisionLog))
          }
          const rowsRead = await (rows as Promise<Map<string, DecisionRow>>)
          return recoverDecision(group, rowsRead, table.state.createdAt, settings)
        },
      })
    })
  }
  if (settings.protocols.has('sequential')) {
    for (const [gtrid, group] of groups) {
      if (group[0]?.parsed.kind !== 'sequential') continue
      const stable = sequentialStable.get(gtrid)
      work.push({
        group,
        run: async () =>
          stable === undefined
            ? leftAlone(
                group,
                'sequential',
                'unstable',
                'its prepared branches changed between the two scans: a coordinator is still working',
              )
            : recoverSequential(stable, settings),
      })
    }
  }
  await mapConcurrent(work, settings.concurrency, async ({ group, run }) => {
    if (signal?.aborted) {
      aborted = true
      return
    }
    const result = await run().catch((error: unknown) => failedTransaction(group, error))
    transactions.push(result)
    log(logger, result)
  })

  const decisionsDeleted =
    decisionLog && !settings.dryRun && !aborted
      ? await collectGarbage(decisionLog, oldRows, groups, latest.complete, settings)
      : 0
  const counts = { committed: 0, rolledBack: 0, left: 0, failed: 0 }
  for (const transaction of transactions) {
    if (transaction.action === 'committed') counts.committed++
    else if (transaction.action === 'rolled-back') counts.rolledBack++
    else if (transaction.action === 'failed') counts.failed++
    else counts.left++
  }
  counts.failed += latest.databases.filter((database) => database.error !== undefined).length
  return {
    dryRun: settings.dryRun,
    aborted,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    databases: latest.databases,
    transactions,
    malformed: latest.malformed,
    decisionsDeleted,
    counts,
  }
}

interface Settings {
  readonly databases: readonly Database[]
  readonly decisionLog: DecisionLog | undefined
  readonly prefix: string
  readonly protocols: ReadonlySet<CommitProtocolName>
  readonly minAge: number
  readonly dryRun: boolean
  readonly signal: AbortSignal | undefined
  readonly logger: Logger
  readonly concurrency: number
  readonly lockTimeout: number
  readonly maxTransactionDuration: number
}

const RECOVER_OPTIONS: ReadonlySet<string> = new Set([
  'databases',
  'decisionLog',
  'prefix',
  'protocol',
  'minAge',
  'dryRun',
  'signal',
  'logger',
  'concurrency',
  'lockTimeout',
  'maxTransactionDuration',
])

function checkOptions(options: RecoverOptions): Settings {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('recover() needs an options object with the databases.')
  }
  checkOptionNames(options, RECOVER_OPTIONS, 'recover()')
  const databases = Array.isArray(options.databases)
    ? options.databases
    : Object.values(options.databases ?? {})
  if (databases.length === 0) {
    throw new ConfigurationError(
      'recover() needs every database of the deployment (databases: { orders, ledger }); none was given.',
    )
  }
  const names = new Set<string>()
  for (const [position, database] of databases.entries()) {
    assertDatabase(database, `databases[${position}]`)
    validateDatabaseName(database.name)
    if (names.has(database.name)) {
      throw new ConfigurationError(
        `Two databases are named "${database.name}": names must be unique.`,
      )
    }
    names.add(database.name)
  }
  const logger = options.logger ?? silentLogger
  const decisionLog =
    options.decisionLog === undefined
      ? undefined
      : new DecisionLog(
          'acquire' in options.decisionLog
            ? { database: options.decisionLog }
            : options.decisionLog,
          logger,
        )
  const protocol = options.protocol ?? (decisionLog ? 'decision' : 'sequential')
  if (!['decision', 'sequential', 'all'].includes(protocol)) {
    throw new ConfigurationError(
      `Unknown protocol ${describeValue(protocol)}: use "decision", "sequential" or "all".`,
    )
  }
  const protocols = new Set<CommitProtocolName>(
    protocol === 'all' ? ['decision', 'sequential'] : [protocol],
  )
  if (protocols.has('decision') && decisionLog === undefined) {
    throw new ConfigurationError(
      'Recovering the decision protocol needs the decision log the writers use: pass decisionLog.',
    )
  }
  const number = (value: number | undefined, fallback: number, name: string, min: number) => {
    const result = value ?? fallback
    if (!Number.isFinite(result) || result < min) {
      throw new ConfigurationError(`${name} must be a number ≥ ${min}, not ${String(value)}.`)
    }
    return result
  }
  return {
    databases,
    decisionLog,
    prefix: validatePrefix(options.prefix ?? DEFAULT_PREFIX),
    protocols,
    minAge: number(options.minAge, DEFAULT_MIN_AGE_MS, 'minAge', 0),
    dryRun: options.dryRun === true,
    signal: options.signal,
    logger,
    concurrency: Math.floor(number(options.concurrency, 8, 'concurrency', 1)),
    lockTimeout: number(options.lockTimeout, 1000, 'lockTimeout', 1),
    maxTransactionDuration: number(
      options.maxTransactionDuration,
      3_600_000,
      'maxTransactionDuration',
      1,
    ),
  }
}

/** Lists our prepared transactions; a server-wide list is read once per server. */
async function scan(databases: readonly Database[], prefix: string): Promise<Scan> {
  const seenServers = new Set<string>()
  const scanned = await Promise.all(
    databases.map(async (database) => {
      if (database.dialect.preparedListScope === 'server') {
        const server = database.identity.replace(/\/[^/]*$/, '')
        if (seenServers.has(server))
          return { database, prepared: [] as PreparedTransaction[], skipped: true }
        seenServers.add(server)
      }
      try {
        const prepared = await withConnection(database, (connection) =>
          database.dialect.listPrepared(connection),
        )
        return { database, prepared, skipped: false }
      } catch (error) {
        return { database, prepared: [] as PreparedTransaction[], skipped: false, error }
      }
    }),
  )
  const branches: FoundBranch[] = []
  const malformed: MalformedPrepared[] = []
  const summaries: ScannedDatabase[] = []
  for (const { database, prepared, error } of scanned as Array<{
    database: Database
    prepared: PreparedTransaction[]
    error?: unknown
  }>) {
    let ours = 0
    let foreign = 0
    const otherPrefixes = new Set<string>()
    for (const { xid, preparedAt } of prepared) {
      const parsed = parseXid(xid, prefix)
      if (parsed.kind === 'foreign') {
        foreign++
        const other = txkitPrefixOf(xid)
        if (other !== undefined) otherPrefixes.add(other)
      } else if (parsed.kind === 'malformed') {
        ours++
        malformed.push({ database: database.name, xid, reason: parsed.reason })
      } else {
        ours++
        branches.push({ database, xid, parsed, preparedAt })
      }
    }
    const others = otherPrefixes.size === 0 ? {} : { otherPrefixes: [...otherPrefixes].sort() }
    summaries.push(
      error === undefined
        ? { name: database.name, ours, foreign, ...others }
        : {
            name: database.name,
            ours,
            foreign,
            ...others,
            // The identity names the host (never a password), so that an operator knows where.
            error: `(${database.identity}) could not be scanned: ${errorMessage(error)}`,
          },
    )
  }
  return {
    branches,
    malformed,
    databases: summaries,
    complete: summaries.every((summary) => summary.error === undefined),
  }
}

/** The prefix of a txkit (or sqlalchemy-xa-recovery) id written with another prefix, if it is one. */
function txkitPrefixOf(xid: string): string | undefined {
  const prefix = /^([a-z]{1,8})[.:]/.exec(xid)?.[1]
  return prefix !== undefined && parseXid(xid, prefix).kind !== 'foreign' ? prefix : undefined
}

function groupBy<Item>(items: readonly Item[], key: (item: Item) => string): Map<string, Item[]> {
  const groups = new Map<string, Item[]>()
  for (const item of items) {
    const group = groups.get(key(item))
    if (group) group.push(item)
    else groups.set(key(item), [item])
  }
  return groups
}

function sameBranches(a: readonly FoundBranch[], b: readonly FoundBranch[]): boolean {
  const keys = (branches: readonly FoundBranch[]) =>
    branches
      .map((branch) => `${branch.database.identity}|${branch.xid}`)
      .sort()
      .join('\n')
  return keys(a) === keys(b)
}

/** Groups whose set of branches is the same in both scans: only those are judged (seed's fix). */
function stableGroups(
  first: readonly FoundBranch[],
  second: readonly FoundBranch[],
): Map<string, FoundBranch[]> {
  const before = groupBy(first, (branch) => branch.parsed.gtrid)
  const after = groupBy(second, (branch) => branch.parsed.gtrid)
  const stable = new Map<string, FoundBranch[]>()
  for (const [gtrid, group] of after) {
    const earlier = before.get(gtrid)
    if (earlier !== undefined && sameBranches(earlier, group)) stable.set(gtrid, group)
  }
  return stable
}

async function readOldRows(decisionLog: DecisionLog, minAge: number): Promise<DecisionRow[]> {
  return withConnection(decisionLog.database, (connection) =>
    decisionLog.database.dialect.readOldDecisions(connection, decisionLog.table, minAge, GC_BATCH),
  ).catch(() => [])
}

/**
 * Starts reading the decision rows of `gtrids` in batches of {@link READ_BATCH}, a few at a time;
 * returns one promise per batch, in order.
 */
function readRowsInBatches(
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

async function readRows(
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
 * Why a missing decision table stops recovery. Never "create it": at recovery time a missing table
 * means the wrong database or a lost table, and a new empty one would let recovery record aborts
 * for transactions whose commit decision is elsewhere.
 */
function missingTable(decisionLog: DecisionLog): string {
  return (
    `the decision table ${decisionLog.tableText} does not exist in database "${decisionLog.database.name}": ` +
    'recovery was pointed at the wrong database or table, or the table was lost. Do not create it: ' +
    "point recovery at the decision log the writers record in (a transaction's id names it after its random part)."
  )
}

/** How an operator finds the decision log a tag names. */
function describeTag(tag: string): string {
  const [database = tag, table] = tag.split('~')
  return table === undefined
    ? `database "${database}", table txkit_decision`
    : `database "${database}", a table other than txkit_decision (its name hashes to ${table})`
}

/** The report for a transaction whose id names another decision log than `decisionLog`, if it does. */
function inOtherDecisionLog(
  group: readonly FoundBranch[],
  decisionLog: DecisionLog,
): TransactionRecovery | undefined {
  const tag = group[0]?.parsed.decisionLog
  if (tag === undefined || tag === decisionLog.tag) return undefined
  return leftAlone(
    group,
    'decision',
    'other-decision-log',
    `its decision is recorded in decision log "${tag}" (${describeTag(tag)}), not in "${decisionLog.tag}" ` +
      'which recovery was given: run recovery with that decision log',
  )
}

/** A transaction of a protocol this round does not recover: reported, with how to recover it. */
function notSelected(
  group: readonly FoundBranch[],
  kind: CommitProtocolName,
  settings: Settings,
): TransactionRecovery {
  const tag = group[0]?.parsed.decisionLog
  if (kind === 'decision' && settings.decisionLog === undefined) {
    return leftAlone(
      group,
      kind,
      'no-decision-log',
      'a decision-protocol transaction, and recovery has no decision log: pass the one the writers ' +
        `record in (--decision-log NAME, or decisionLog in recover())${tag === undefined ? '' : `; its id names ${describeTag(tag)}`}`,
    )
  }
  return leftAlone(
    group,
    kind,
    'protocol-not-selected',
    `a ${kind}-protocol transaction, and recovery was asked for ${[...settings.protocols].join(' and ')} only: use protocol "all" (--protocol all) to recover it too`,
  )
}

function ageOf(group: readonly FoundBranch[]): number | undefined {
  const startedAt = group[0]?.parsed.startedAt
  if (startedAt !== undefined) return Date.now() - startedAt
  const prepared = group.flatMap((branch) =>
    branch.preparedAt === undefined ? [] : [branch.preparedAt],
  )
  return prepared.length === 0 ? undefined : Date.now() - Math.min(...prepared)
}

function names(row: DecisionRow | undefined): string[] {
  if (row === undefined) return []
  try {
    const parsed: unknown = JSON.parse(row.participants)
    // Positions matter (they are branch indexes): an unused index stays as an empty name.
    return Array.isArray(parsed) ? parsed.map((name) => (typeof name === 'string' ? name : '')) : []
  } catch {
    return []
  }
}

function branchName(branch: FoundBranch, participants: readonly string[]): string {
  if (branch.database.dialect.preparedListScope === 'server') {
    return participants[branch.parsed.index] || branch.database.name
  }
  return branch.database.name
}

function leftAlone(
  group: readonly FoundBranch[],
  protocol: CommitProtocolName,
  left: LeftReason,
  reason: string,
  decision: TransactionRecovery['decision'] = 'none',
): TransactionRecovery {
  return {
    gtrid: group[0]?.parsed.gtrid ?? '',
    protocol,
    ageMs: ageOf(group),
    branches: group.map((branch) => ({
      database: branch.database.name,
      xid: branch.xid,
      index: branch.parsed.index,
      outcome: 'left',
    })),
    decision,
    reason,
    action: 'left',
    left,
    warnings: [],
  }
}

function failedTransaction(group: readonly FoundBranch[], error: unknown): TransactionRecovery {
  return {
    gtrid: group[0]?.parsed.gtrid ?? '',
    protocol: group[0]?.parsed.kind ?? 'decision',
    ageMs: ageOf(group),
    branches: group.map((branch) => ({
      database: branch.database.name,
      xid: branch.xid,
      index: branch.parsed.index,
      outcome: 'failed',
    })),
    decision: 'none',
    reason: 'recovery of this transaction failed',
    action: 'failed',
    error: errorMessage(error),
    warnings: [],
  }
}

async function recoverDecision(
  group: readonly FoundBranch[],
  rows: Map<string, DecisionRow>,
  /** When the decision table was created, by the decision database's clock, where known. */
  createdAt: number | undefined,
  settings: Settings,
): Promise<TransactionRecovery> {
  const first = group[0]
  const decisionLog = settings.decisionLog
  if (first === undefined || decisionLog === undefined) throw new TypeError('empty group')
  const gtrid = first.parsed.gtrid
  const age = ageOf(group)
  let row = rows.get(gtrid)
  if (age !== undefined && age < settings.minAge) {
    // Left alone, but its decision (if any) is shown: a 'C' row means it will commit.
    return leftAlone(
      group,
      'decision',
      'too-young',
      `younger than minAge (${settings.minAge} ms)`,
      row === undefined ? 'none' : row.outcome === 'C' ? 'commit' : 'rollback',
    )
  }
  let reason: string
  const startedAt = first.parsed.startedAt
  if (row !== undefined) {
    reason = row.outcome === 'C' ? "decision row 'C': commit" : "decision row 'A': roll back"
  } else if (createdAt === undefined || startedAt === undefined || startedAt < createdAt) {
    // Its decision cannot be in this table: it may be in a lost one, or in another database.
    return leftAlone(
      group,
      'decision',
      'older-than-decision-log',
      createdAt === undefined
        ? `no decision row, and the decision table ${decisionLog.tableText} carries no creation time, so recovery cannot tell whether the transaction began before it existed: run \`txkit init\` (or coordinator.createDecisionLog()) once to stamp it, then recover again`
        : `no decision row, but the transaction began (${new Date(startedAt ?? 0).toISOString()}) before the decision table ${decisionLog.tableText} existed (${new Date(createdAt).toISOString()}): its decision may be in another or a lost decision table. No abort is recorded; find its decision, or record it by hand`,
    )
  } else if (settings.dryRun) {
    return finishGroup(
      group,
      'rollback',
      'no decision row: an abort decision would be recorded',
      undefined,
      settings,
    )
  } else {
    const participants = JSON.stringify([...new Set(group.map((branch) => branch.database.name))])
    const inserted = await withConnection(decisionLog.database, (connection) =>
      decisionLog.database.dialect.insertAbortDecision(
        connection,
        decisionLog.table,
        gtrid,
        participants,
        settings.lockTimeout,
      ),
    )
    if (inserted === 'busy') {
      return leftAlone(
        group,
        'decision',
        'decision-open',
        "the coordinator's commit decision is still open (its row is locked): it is alive",
      )
    }
    if (inserted === 'inserted') {
      reason = "no decision row: recorded 'A', roll back"
    } else {
      row = (await readRows(decisionLog, [gtrid])).get(gtrid)
      if (row === undefined) {
        // A decision row is removed only once every branch is finished: it came and went.
        return leftAlone(
          group,
          'decision',
          'in-use',
          'another session decided and finished it meanwhile (its decision row came and went)',
        )
      }
      reason = `a decision was recorded concurrently ('${row.outcome}')`
    }
  }
  return finishGroup(group, row?.outcome === 'C' ? 'commit' : 'rollback', reason, row, settings)
}

async function recoverSequential(
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
    )
  }
  if (isPrefix) {
    return finishGroup(
      group,
      'rollback',
      `prepared branches ${shape} form a prefix: roll back in descending order`,
      undefined,
      settings,
    )
  }
  return invalid(`prepared branches ${shape} are neither a prefix nor a suffix`)
}

/** Commits or rolls back every branch; sequential groups in the seed's order, others in parallel. */
async function finishGroup(
  group: readonly FoundBranch[],
  decision: 'commit' | 'rollback',
  reason: string,
  row: DecisionRow | undefined,
  settings: Settings,
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
  if (protocol === 'sequential') {
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

/**
 * Deletes decision rows no longer needed, among those read before the scan: a 'C' row whose
 * transaction has no prepared branch left (once committed, its branches only disappear), an 'A'
 * row once no coordinator may still record a commit for it (past its deadline by the database's
 * clock). Only when every participant is configured and every database was scanned. Rows of
 * transactions finished in this round go in a later round, once they are older than the scan.
 */
async function collectGarbage(
  decisionLog: DecisionLog,
  oldRows: readonly DecisionRow[],
  groups: Map<string, FoundBranch[]>,
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
        if (groups.has(row.gtrid) || !allConfigured(row)) return false
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
function startTimeOf(gtrid: string, prefix: string): number | undefined {
  const parsed = parseXid(`${gtrid}.1.0`, prefix)
  return parsed.kind === 'decision' ? parsed.startedAt : undefined
}

function log(logger: Logger, transaction: TransactionRecovery): void {
  const fields = {
    gtrid: transaction.gtrid,
    protocol: transaction.protocol,
    action: transaction.action,
    reason: transaction.reason,
    ...(transaction.left && { left: transaction.left }),
    ...(transaction.error && { error: transaction.error }),
  }
  if (transaction.action === 'failed') logger.error(fields, 'txkit recover: transaction failed')
  else if (transaction.action === 'left') logger.info?.(fields, 'txkit recover: transaction left')
  else logger.info?.(fields, `txkit recover: transaction ${transaction.action}`)
}
