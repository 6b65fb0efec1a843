import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { Finding, PreflightExpectations } from '../dialect/preflight-dialect.js'
import { parseTableName, type TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { decisionDatabasesOf } from '../records/decision-databases.js'
import {
  type DecisionLog,
  type DecisionLogOptions,
  decisionLogOf,
} from '../records/decision-log.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { errorMessage } from '../util/error-message.js'
import { silentLogger } from '../util/logger.js'
import { DEFAULT_PREFIX, validatePrefix } from '../xid/deployment-prefix.js'

export interface CheckDeploymentOptions {
  /** Every database of the deployment (a record or a list), by the names the writers use. */
  readonly databases: Readonly<Record<string, Database>> | readonly Database[]
  /** The writers' decision log: its table must exist. */
  readonly decisionLog?: Database | DecisionLogOptions
  /** The writers' `decisionDatabases`: each must have the decision table, and keep it on failover. */
  readonly decisionDatabases?: ReadonlyArray<Database | DecisionLogOptions>
  /** The parallel protocol's fence table, which must exist in every database; unchecked if absent. */
  readonly fenceTable?: string
  /** Transactions expected in flight at once with a branch on one server. */
  readonly concurrency?: number
  /** How long one database may take to answer every check (ms, default 10 000). */
  readonly timeout?: number
  /**
   * How far a database's clock may be from this host's (ms, default 5 000). Run the check where the
   * coordinators run: their clocks set the deadlines the databases' clocks enforce.
   */
  readonly maxClockSkew?: number
  /** The writers' prefix (default `txkit`): which prepared transactions are ours. */
  readonly prefix?: string
  /**
   * Standbys a database may fail over to, by that database's name: their settings are compared
   * with the primary's.
   */
  readonly standbys?: Readonly<Record<string, readonly Database[]>>
}

/** What `checkDeployment` found; `ok` when no finding is an error. */
export interface DeploymentCheck {
  readonly ok: boolean
  readonly findings: readonly Finding[]
}

const OPTIONS: ReadonlySet<string> = new Set([
  'databases',
  'decisionLog',
  'decisionDatabases',
  'fenceTable',
  'concurrency',
  'timeout',
  'maxClockSkew',
  'prefix',
  'standbys',
])
const PROBE_GTRID = 'txkit-preflight'

/**
 * Inspects every database of a deployment before any transaction runs, and reports what would make
 * transactions fail or recovery impossible, each finding with its severity, a plain explanation and
 * the fix. Reads only; changes nothing. A database that cannot be reached is a finding too.
 *
 * @example
 * ```ts
 * const check = await checkDeployment({ databases: { accounts, ledger }, decisionLog: accounts, concurrency: 50 })
 * for (const finding of check.findings) console.log(finding.severity, finding.database, finding.message, finding.fix)
 * if (!check.ok) process.exit(1)
 * ```
 */
export async function checkDeployment(options: CheckDeploymentOptions): Promise<DeploymentCheck> {
  checkOptionNames(options, OPTIONS, 'checkDeployment()')
  const databases = Array.isArray(options.databases)
    ? options.databases
    : Object.values(options.databases ?? {})
  if (databases.length === 0) {
    throw new ConfigurationError('checkDeployment() needs the databases to check; none was given.')
  }
  for (const [position, database] of databases.entries()) {
    assertDatabase(database, `databases[${position}]`)
  }
  const decisionLog = decisionLogOf(options.decisionLog, silentLogger)
  const decisionDatabases = decisionDatabasesOf(
    options.decisionDatabases,
    decisionLog,
    undefined,
    silentLogger,
  )
  const fenceTable =
    options.fenceTable === undefined
      ? undefined
      : { text: options.fenceTable, table: parseTableName(options.fenceTable, 'fence table') }
  const concurrency = options.concurrency
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new ConfigurationError(
      `concurrency must be a positive whole number, not ${describeValue(concurrency)}.`,
    )
  }
  const timeout = options.timeout ?? 10_000
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new ConfigurationError(
      `timeout must be a number of ms > 0, not ${describeValue(timeout)}.`,
    )
  }
  const maxClockSkew = options.maxClockSkew ?? 5000
  if (!(Number.isFinite(maxClockSkew) && maxClockSkew >= 0)) {
    throw new ConfigurationError(
      `maxClockSkew must be a number of ms ≥ 0, not ${describeValue(maxClockSkew)}.`,
    )
  }
  const prefix = validatePrefix(options.prefix ?? DEFAULT_PREFIX)
  const standbyPairs: Array<readonly [Database, Database]> = []
  for (const [primaryName, standbys] of Object.entries(options.standbys ?? {})) {
    const primary = databases.find((database) => database.name === primaryName)
    if (primary === undefined) {
      throw new ConfigurationError(
        `standbys names "${primaryName}", which is not one of the databases: key each list of standbys by its primary's name.`,
      )
    }
    for (const [position, standby] of standbys.entries()) {
      assertDatabase(standby, `standbys.${primaryName}[${position}]`)
      standbyPairs.push([primary, standby])
    }
  }
  const checked = new Set(databases)
  /** The decision log each checked database holds, by identity. */
  const logs = new Map<string, DecisionLog>()
  for (const log of [...decisionDatabases, decisionLog]) {
    if (log === undefined) continue
    logs.set(log.database.identity, log)
    if (!databases.some((database) => database.identity === log.database.identity)) {
      checked.add(log.database)
    }
  }
  // A database that fails or does not answer in time is a finding, never a thrown error.
  const answered = (database: Database, work: Promise<Finding[]>) =>
    withTimeout(work, timeout, database).catch((error: unknown) => [unreachable(database, error)])
  const perDatabase = await Promise.all([
    ...[...checked].map((database) =>
      answered(
        database,
        inspect(
          database,
          {
            concurrency,
            holdsDecisions: logs.has(database.identity),
            keepsEveryDecision:
              logs.size === 1 && logs.has(database.identity) && fenceTable === undefined,
            prefix,
          },
          logs.get(database.identity),
          fenceTable,
          maxClockSkew,
        ),
      ),
    ),
    ...standbyPairs.map(([primary, standby]) =>
      answered(standby, inspectStandby(primary, standby)),
    ),
  ])
  const findings = perDatabase.flat()
  return { ok: findings.every((finding) => finding.severity !== 'error'), findings }
}

async function inspect(
  database: Database,
  expected: PreflightExpectations,
  decisionLog: DecisionLog | undefined,
  fenceTable: { readonly text: string; readonly table: TableName } | undefined,
  maxClockSkew: number,
): Promise<Finding[]> {
  return withConnection(database, async (connection) => {
    const found: Finding[] = []
    const sent = Date.now()
    const serverNow = await database.dialect.now(connection)
    const answered = Date.now()
    // The server read its clock somewhere between sending and answering: only what lies beyond
    // that window is skew for certain.
    const offset = serverNow - (sent + answered) / 2
    if (Math.abs(offset) - (answered - sent) / 2 > maxClockSkew) {
      found.push({
        database: database.name,
        code: 'clock-skew',
        severity: 'warning',
        message: `Its clock is ${(Math.abs(offset) / 1000).toFixed(1)} s ${offset > 0 ? 'ahead of' : 'behind'} this host's (bound ${maxClockSkew} ms). Deadlines are set by the coordinators' clocks and enforced by the databases': a decision database far ahead refuses commits as past their deadline, and recovery's garbage collection and its check of the decision table's age are off by as much.`,
        fix: 'Synchronise the clocks (NTP/chrony) of the database servers and of the hosts running coordinators.',
      })
    }
    const own = (await database.dialect.preflight?.inspect(connection, expected, database)) ?? []
    for (const finding of own) found.push({ database: database.name, ...finding })
    if (decisionLog !== undefined) {
      const missing = await isMissing(database, () =>
        database.dialect.readDecisions(connection, decisionLog.table, [PROBE_GTRID]),
      )
      if (missing) {
        found.push({
          database: database.name,
          code: 'decision-table-missing',
          severity: 'error',
          message: `The decision table ${decisionLog.tableText} does not exist: transactions of the decision and parallel protocols roll back at their decision, and recovery leaves them alone.`,
          fix: 'Create it once: `txkit init --db … --decision-log NAME` or `await coordinator.createDecisionLog()` (if it was lost, find out why before re-creating it: recovery never aborts a transaction older than its decision table).',
        })
      }
    }
    const fences = database.dialect.fences
    if (fenceTable !== undefined && fences !== undefined) {
      const missing = await isMissing(database, () =>
        fences.showsCommitted(connection, fenceTable.table, { gtrid: PROBE_GTRID, index: 0 }),
      )
      if (missing) {
        found.push({
          database: database.name,
          code: 'fence-table-missing',
          severity: 'error',
          message: `The fence table ${fenceTable.text} does not exist: parallel transactions with a branch here are refused at begin.`,
          fix: 'Create it once: `txkit init --fences --fence-table …` or `await coordinator.createFenceTable(database)`.',
        })
      }
    }
    return found
  })
}

async function inspectStandby(primary: Database, standby: Database): Promise<Finding[]> {
  const check = primary.dialect.preflight?.inspectStandby
  if (check === undefined) return []
  return withConnection(primary, (onPrimary) =>
    withConnection(standby, async (onStandby) =>
      (await check(onPrimary, onStandby)).map((finding) => ({
        database: standby.name,
        ...finding,
      })),
    ),
  )
}

async function isMissing(database: Database, probe: () => Promise<unknown>): Promise<boolean> {
  try {
    await probe()
    return false
  } catch (error) {
    if (database.dialect.isUndefinedTable(error)) return true
    throw error
  }
}

function unreachable(database: Database, error: unknown): Finding {
  return {
    database: database.name,
    code: 'unreachable',
    severity: 'error',
    message: `Could not inspect the database: ${errorMessage(error)}`,
    fix: 'Check that it runs and that its address and credentials are right; then check again.',
  }
}

function withTimeout<Result>(
  work: Promise<Result>,
  ms: number,
  database: Database,
): Promise<Result> {
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`database "${database.name}" did not answer within ${ms} ms`)),
      ms,
    )
  })
  return Promise.race([work, expired]).finally(() => clearTimeout(timer))
}
