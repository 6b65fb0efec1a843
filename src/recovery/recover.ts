import { finishStaged, RECOVERY_RULES } from '../commit/protocols.js'
import { withConnection } from '../database/with-connection.js'
import type { DecisionRow } from '../dialect/dialect.js'
import type { RecoveryWork } from '../protocol/commit-protocol.js'
import type { FoundBranch } from '../protocol/found-branch.js'
import { failedTransaction, leftAlone, notSelected } from '../protocol/left-alone.js'
import type { RecoveryReport, TransactionRecovery } from '../protocol/recovery-report.js'
import type { Settings } from '../protocol/recovery-settings.js'
import type { DecisionLog } from '../records/decision-log.js'
import { type RowReads, readOldRows } from '../records/decision-rows.js'
import { startSpan } from '../tracing/span.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import { mapConcurrent } from '../util/map-concurrent.js'
import { sleep } from '../util/sleep.js'
import { collectGarbage } from './collect-garbage.js'
import { groupBy, type Scan, scan, stableGroups } from './prepared-scan.js'
import { checkOptions, type RecoverOptions } from './recover-options.js'
import { ProgressCounter } from './recovery-progress.js'
import { WorkShares } from './work-shares.js'

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
    const report = await recoverRound(settings, options.onProgress)
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

/** What a round found and what it has to do about it. */
interface RoundPlan {
  readonly work: RecoveryWork[]
  /** The gtrids with prepared branches in the scan (decision rows of others may be collected). */
  readonly prepared: ReadonlySet<string>
  readonly databases: Scan['databases']
  readonly malformed: Scan['malformed']
  readonly complete: boolean
}

/**
 * Scans and lets each selected protocol's recovery rules turn what it found into work items. A
 * function of its own so that the scans and their groups are garbage once it returns: a large
 * round keeps only what is still to do.
 */
async function planRound(
  settings: Settings,
  oldRows: ReadonlyMap<DecisionLog, readonly DecisionRow[]>,
): Promise<RoundPlan> {
  const { databases, signal } = settings
  const rules = RECOVERY_RULES.filter((each) => settings.protocols.has(each.kind))
  const first = await scan(databases, settings.prefix)
  let latest = first
  let stable: Map<string, FoundBranch[]> = new Map()
  const scanTwice = rules.some(
    (each) => each.scansTwice && first.branches.some((branch) => branch.parsed.kind === each.kind),
  )
  if (scanTwice) {
    await sleep(settings.minAge, signal)
    latest = await scan(databases, settings.prefix)
    stable = stableGroups(first.branches, latest.branches)
  }
  const groups = groupBy(latest.branches, (branch) => branch.parsed.gtrid)

  const work: RecoveryWork[] = []
  for (const [gtrid, group] of groups) {
    const kind = group[0]?.parsed.kind ?? 'decision'
    if (!settings.protocols.has(kind)) {
      work.push({ gtrid, kind, group, run: async () => notSelected(group, kind, settings) })
    }
  }
  const round = { settings, groups, stable, oldRows, finishStaged }
  for (const each of rules) work.push(...(await each.plan(round)))
  return {
    work,
    prepared: new Set(groups.keys()),
    databases: latest.databases,
    malformed: latest.malformed,
    complete: latest.complete,
  }
}

/** Starts reading the decision rows the items will need, while earlier items are finished. */
function readAhead(items: readonly RecoveryWork[]): void {
  const wanted = new Map<RowReads, string[]>()
  for (const item of items) {
    if (item.rows === undefined || item.group.length === 0) continue
    const gtrids = wanted.get(item.rows)
    if (gtrids === undefined) wanted.set(item.rows, [item.gtrid])
    else gtrids.push(item.gtrid)
  }
  for (const [rows, gtrids] of wanted) rows.request(gtrids)
}

async function recoverRound(
  settings: Settings,
  onProgress: RecoverOptions['onProgress'],
): Promise<RecoveryReport> {
  const started = Date.now()
  const { decisionLogs, logger, signal } = settings
  const progress = new ProgressCounter(onProgress, started, logger)
  // Old decision rows are read before the scan: once a commit decision exists, its prepared
  // branches only ever disappear, so a row whose branches the later scan does not find is finished.
  const oldRows = new Map(
    settings.dryRun
      ? []
      : await Promise.all(
          decisionLogs.map(async (log) => [log, await readOldRows(log, settings.minAge)] as const),
        ),
  )
  const plan = await planRound(settings, oldRows)
  let work: RecoveryWork[] = plan.work
  const transactions: TransactionRecovery[] = []
  let aborted = false
  progress.planned(work.length)

  const runOne = async ({ group, run }: RecoveryWork): Promise<void> => {
    if (signal?.aborted) {
      aborted = true
      return
    }
    const result = await run().catch((error: unknown) => failedTransaction(group, error))
    transactions.push(result)
    log(logger, result)
    progress.handled(result)
  }
  // The share locks live in the first decision log that has locks; every worker configured alike
  // picks the same one.
  const lockLog = decisionLogs.find((log) => log.database.dialect.locks !== undefined)
  const locks = lockLog?.database.dialect.locks
  // Several workers at once split a round between them instead of each doing all of it. Every
  // round takes part: a worker that did not (a small round) would meet the others' work. A dry
  // run (`txkit status`) takes no share: a worker would leave what it holds undone.
  const lockSession =
    lockLog !== undefined && locks !== undefined && work.length > 0 && !settings.dryRun
      ? await lockLog.database.acquire().catch((error: unknown) => {
          logger.warn(
            { error: errorMessage(error) },
            'txkit recover: no session for the work-share locks; this worker does the whole round',
          )
          return undefined
        })
      : undefined
  if (lockSession !== undefined && locks !== undefined) {
    const shares = new WorkShares({
      connection: lockSession,
      dialect: locks,
      scope: `${settings.prefix}:${decisionLogs.map((log) => log.tag).join('+')}`,
      items: work,
      gtridOf: (item) => item.gtrid,
      stillToDo: (items) => firstStillPrepared(items),
      onTaken: readAhead,
      logger,
    })
    // The shares hold the items now, and let each go once done.
    work = []
    try {
      await Promise.all(
        Array.from({ length: settings.concurrency }, async () => {
          for (let item = await shares.next(); item !== undefined; item = await shares.next()) {
            await runOne(item)
          }
        }),
      )
    } finally {
      // A session whose locks could not all be given back is closed, which gives them back.
      const released = await shares.close().then(
        () => true,
        () => false,
      )
      lockSession.release(!released)
    }
    for (const { group, kind } of shares.skipped) {
      // A staged row without prepared branches is the other worker's to resolve: nothing to say.
      if (group.length === 0) {
        progress.handled(undefined)
        continue
      }
      const result = leftAlone(
        group,
        kind,
        'other-worker',
        'another recovery worker running now holds its share of the work (it finishes it, or the next round does)',
      )
      transactions.push(result)
      log(logger, result)
      progress.handled(result)
    }
  } else {
    readAhead(work)
    await mapConcurrent(work, settings.concurrency, runOne)
  }
  progress.finished()

  let decisionsDeleted = 0
  if (!settings.dryRun && !aborted) {
    for (const [log, rows] of oldRows) {
      decisionsDeleted += await collectGarbage(log, rows, plan.prepared, plan.complete, settings)
    }
  }
  let fencesDeleted = 0
  if (!settings.dryRun && !aborted) {
    for (const rules of RECOVERY_RULES) {
      if (rules.collectFences === undefined || !settings.protocols.has(rules.kind)) continue
      fencesDeleted += await rules.collectFences(settings)
    }
  }
  const counts = { committed: 0, rolledBack: 0, left: 0, failed: 0 }
  for (const transaction of transactions) {
    if (transaction.action === 'committed') counts.committed++
    else if (transaction.action === 'rolled-back') counts.rolledBack++
    else if (transaction.action === 'failed') counts.failed++
    else counts.left++
  }
  counts.failed += plan.databases.filter((database) => database.error !== undefined).length
  return {
    dryRun: settings.dryRun,
    aborted,
    startedAt: new Date(started).toISOString(),
    durationMs: Date.now() - started,
    databases: plan.databases,
    transactions,
    malformed: plan.malformed,
    decisionsDeleted,
    fencesDeleted,
    counts,
  }
}

/**
 * Whether the share's item a worker does first (the last: shares are taken from the end) still has
 * a prepared branch. Gone means another worker finished the share (or its coordinator did that one).
 */
async function firstStillPrepared(items: readonly RecoveryWork[]): Promise<boolean> {
  const branch = items.findLast((item) => item.group.length > 0)?.group[0]
  if (branch === undefined) return true
  const { database, xid } = branch
  return withConnection(database, async (connection) =>
    database.dialect.isPrepared !== undefined
      ? database.dialect.isPrepared(connection, xid)
      : (await database.dialect.listPrepared(connection)).some((found) => found.xid === xid),
  )
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

export type { RecoverOptions } from './recover-options.js'
