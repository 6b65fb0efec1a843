import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { validateDatabaseName } from '../database/database-name.js'
import { parseTableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { Settings } from '../protocol/recovery-settings.js'
import { decisionDatabasesOf } from '../records/decision-databases.js'
import {
  type DecisionLog,
  type DecisionLogOptions,
  decisionLogOf,
} from '../records/decision-log.js'
import { DEFAULT_FENCE_TABLE } from '../records/fence-table.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { describeValue } from '../util/describe-value.js'
import { type Logger, silentLogger } from '../util/logger.js'
import { DEFAULT_PREFIX, validatePrefix } from '../xid/deployment-prefix.js'
import type { IdKind } from '../xid/xid.js'
import type { RecoveryProgress } from './recovery-progress.js'

export interface RecoverOptions {
  /**
   * Every database that can take part in the deployment's transactions, by the same stable names
   * the writers use. A record (`{ orders, ledger }`) or a list of databases.
   */
  readonly databases: Readonly<Record<string, Database>> | readonly Database[]
  /**
   * The decision log the writers use. The `decision` protocol needs it or `decisionDatabases`;
   * transactions whose id names no log (written before ids named one) are read here.
   */
  readonly decisionLog?: Database | DecisionLogOptions
  /**
   * The writers' `decisionDatabases`: each transaction's decision is read in the one its id names.
   * A transaction whose decision database cannot be reached is reported failed and left for a
   * later round; the others are recovered.
   */
  readonly decisionDatabases?: ReadonlyArray<Database | DecisionLogOptions>
  /** The writers' prefix; default `txkit`. Transactions with any other prefix are never touched. */
  readonly prefix?: string
  /**
   * Which transactions to recover; default `decision` with a decision log, else `sequential`.
   * `decision` covers the parallel protocol's transactions too (they write the same ids and rows).
   */
  readonly protocol?: IdKind | 'all'
  /**
   * The writers' fence table (parallel protocol; default `txkit_fence`), in every database:
   * recovery claims fences to resolve staged decisions and deletes old fence rows.
   */
  readonly fenceTable?: string
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
  /**
   * Told how far the round is: once its plan is made (`done: 0` of `total`), after every
   * transaction, and at the end (`final: true`). Not throttled (print at most every so often);
   * a callback that throws is logged once and never stops the round.
   */
  readonly onProgress?: (progress: RecoveryProgress) => void
}

export const DEFAULT_MIN_AGE_MS = 15_000

export const RECOVER_OPTIONS: ReadonlySet<string> = new Set([
  'databases',
  'decisionLog',
  'decisionDatabases',
  'prefix',
  'protocol',
  'minAge',
  'dryRun',
  'signal',
  'logger',
  'concurrency',
  'lockTimeout',
  'maxTransactionDuration',
  'fenceTable',
  'onProgress',
])

export function checkOptions(options: RecoverOptions): Settings {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError('recover() needs an options object with the databases.')
  }
  checkOptionNames(options, RECOVER_OPTIONS, 'recover()')
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new ConfigurationError(
      `onProgress must be a function, not ${describeValue(options.onProgress)}.`,
    )
  }
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
  const decisionLog = decisionLogOf(options.decisionLog, logger)
  const decisionDatabases = decisionDatabasesOf(
    options.decisionDatabases,
    decisionLog,
    undefined,
    logger,
  )
  // One log per tag: the decision log may be one of the decision databases too.
  const decisionLogs = [decisionLog, ...decisionDatabases].filter(
    (log, position, all): log is DecisionLog =>
      log !== undefined && all.findIndex((other) => other?.tag === log.tag) === position,
  )
  const protocol = options.protocol ?? (decisionLogs.length > 0 ? 'decision' : 'sequential')
  if (!['decision', 'sequential', 'all'].includes(protocol)) {
    throw new ConfigurationError(
      `Unknown protocol ${describeValue(protocol)}: use "decision", "sequential" or "all".`,
    )
  }
  const protocols = new Set<IdKind>(protocol === 'all' ? ['decision', 'sequential'] : [protocol])
  if (protocols.has('decision') && decisionLogs.length === 0) {
    throw new ConfigurationError(
      'Recovering the decision protocol needs the decision log the writers use: pass decisionLog (or decisionDatabases).',
    )
  }
  const number = (value: number | undefined, fallback: number, name: string, min: number) => {
    const result = value ?? fallback
    if (!Number.isFinite(result) || result < min) {
      throw new ConfigurationError(`${name} must be a number ≥ ${min}, not ${String(value)}.`)
    }
    return result
  }
  const fenceTableText = options.fenceTable ?? DEFAULT_FENCE_TABLE
  return {
    databases,
    decisionLog,
    decisionLogs,
    fenceTable: { table: parseTableName(fenceTableText, 'fence table'), text: fenceTableText },
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
