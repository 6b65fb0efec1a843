#!/usr/bin/env node
import { parseArgs } from 'node:util'
import type { Database } from '../driver/database.js'
import { isConfigurationError } from '../errors/configuration-error.js'
import { createLock } from '../lock/create-lock.js'
import { checkDeployment, type DeploymentCheck } from '../preflight/check-deployment.js'
import type { RecoveryReport } from '../protocol/recovery-report.js'
import { DecisionLog, type DecisionLogOptions } from '../records/decision-log.js'
import { DEFAULT_FENCE_TABLE, FenceTable } from '../records/fence-table.js'
import { type RecoverOptions, recover } from '../recovery/recover.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import { sleep } from '../util/sleep.js'
import { cliLogger } from './cli-logger.js'
import { type ConnectedDatabase, connect, parseDatabaseSpec } from './connect.js'
import { parseDuration } from './duration.js'
import { formatRecovery, formatStatus } from './format-report.js'
import { RecoveryMetrics } from './metrics.js'
import { redact } from './redact.js'
import { UsageError } from './usage-error.js'
import { packageVersion } from './version.js'

const DATABASE_HELP = `  --db NAME=URL          a database of the deployment (repeat for each). URL: postgres://,
                         postgresql://, mysql:// or mariadb://. To keep passwords off the
                         command line: --db NAME=env:VARIABLE, or --db NAME alone with the URL
                         in TXKIT_DB_<NAME>. Passwords are never printed.`
const SELECTION_HELP = `  --decision-log NAME    the database holding the decision table (the decision protocol
                         needs it or --decision-databases)
  --decision-databases NAME,NAME
                         the writers' decisionDatabases: each transaction's decision is
                         read in the one its id names
  --table NAME           the decision table (default txkit_decision)
  --fence-table NAME     the parallel protocol's fence table (default txkit_fence)
  --prefix P             the writers' deployment prefix (default txkit)
  --protocol P           decision | sequential | all (default: decision with --decision-log,
                         else sequential)
  --min-age D            leave younger transactions alone; for sequential, the wait between
                         the two scans (default 15s)
  --json                 print JSON instead of text`

const TIMEOUT_HELP = `  --connect-timeout D    give up connecting after D (default 10s)
  --statement-timeout D  give up on any statement after D (default 60s): a round that takes
                         longer fails, it never hangs`

const HELP: Record<string, string> = {
  main: `txkit — atomic commit across databases, and recovery of in-doubt transactions

Usage: txkit <command> [options]

Commands:
  init      create the decision table
  status    show our prepared transactions and what recover would do
  recover   finish in-doubt transactions once, print what was done
  watch     recover every interval, serve Prometheus metrics
  check     inspect every database before the first transaction: settings, tables

Run txkit <command> --help for its options.
Exit codes: 0 nothing left in doubt; 1 something failed or needs a person (another
decision log, a missing table, malformed ids); 2 usage error; 3 work left for a later round
(too young, a decision still open, a branch still attached to its session).
txkit --version prints the version.`,
  init: `Usage: txkit init --db NAME=URL (--decision-log NAME | --decision-databases A,B) [--table NAME]
                  [--fences] [--print-sql]

Creates the decision table (if it does not exist) in the decision database, and in each of
--decision-databases; with --fences, the parallel protocol's fence table in every --db too.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --decision-log NAME    which of the databases holds it
  --decision-databases NAME,NAME
                         the databases that keep the decisions of their own transactions
  --table NAME           table name, or schema.table (default txkit_decision)
  --fences               also create the fence table in every --db (parallel protocol)
  --fence-table NAME     its name, or schema.table (default txkit_fence)
  --print-sql            print the statements instead of running them (for migration tools:
                         idempotent; on PostgreSQL they stamp the table's creation time)`,
  status: `Usage: txkit status --db NAME=URL [--db …] [options]

Lists our prepared transactions with their age, decision and what recover would do. Changes
nothing. Exit code 1 when any is in doubt.

${DATABASE_HELP}
${TIMEOUT_HELP}
${SELECTION_HELP}`,
  recover: `Usage: txkit recover --db NAME=URL [--db …] [options] [--dry-run]

Finishes every in-doubt transaction once: commits on a 'C' decision, rolls back on 'A', records
'A' when there is no decision and the coordinator is gone. Never touches transactions with
another prefix. Safe to run from several places at once and while writers are live.

${DATABASE_HELP}
${TIMEOUT_HELP}
${SELECTION_HELP}
  --dry-run              report what would be done, change nothing
  --concurrency N        transactions finished at once (default 8)`,
  check: `Usage: txkit check --db NAME=URL [--db …] [options]

Inspects every database and reports what would make transactions fail or recovery impossible:
prepared transactions disabled or too few for --concurrency, the decision table or fence tables
missing, a transaction-mode pooler, a Galera node, a decision database with only asynchronous
standbys, a standby with lower settings than its primary, prepared transactions this role cannot
finish, a clock off from this host's, a database that cannot be reached. Each finding has a
severity, an explanation and the fix. Changes nothing. Exit code 1 when any finding is an error,
else 0.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --decision-log NAME    the database holding the decision table: check that it exists
  --decision-databases NAME,NAME
                         the databases keeping decisions: check the table in each
  --table NAME           the decision table (default txkit_decision)
  --fences               check the parallel protocol's fence table in every --db
  --fence-table NAME     its name (default txkit_fence)
  --concurrency N        transactions expected in flight at once with a branch on one server
  --max-clock-skew D     how far a database's clock may be from this host's (default 5s)
  --prefix P             the writers' deployment prefix (default txkit): whose prepared
                         transactions recovery must be able to finish
  --standby DB:NAME=URL  a standby that database DB may fail over to (repeat for each): its
                         settings are compared with DB's. URL as for --db (NAME=env:VAR too)
  --json                 print JSON instead of text`,
  watch: `Usage: txkit watch --db NAME=URL [--db …] [options] --interval 30s [--metrics-port 9464]

Recovers every interval until SIGINT or SIGTERM (the current round finishes first). Several
watch processes can run: a lock on the decision database (or the first database) lets one work
per round. Logs one line per round. Runs txkit check's inspection at start and every 20 rounds:
new findings are logged, all are served as txkit_preflight_* metrics.

${DATABASE_HELP}
${TIMEOUT_HELP}
${SELECTION_HELP}
  --interval D           time between rounds (default 30s)
  --metrics-port N       serve /metrics (Prometheus) and /healthz on this port
  --metrics-host H       address to serve them on (default 127.0.0.1)`,
}

const OPTIONS = {
  db: { type: 'string', multiple: true },
  'decision-log': { type: 'string' },
  'decision-databases': { type: 'string' },
  table: { type: 'string' },
  prefix: { type: 'string' },
  protocol: { type: 'string' },
  'min-age': { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  concurrency: { type: 'string' },
  interval: { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  'print-sql': { type: 'boolean' },
  fences: { type: 'boolean' },
  'fence-table': { type: 'string' },
  'max-clock-skew': { type: 'string' },
  standby: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} as const

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false }>
>['values']

const COMMON = ['db', 'json', 'help', 'connect-timeout', 'statement-timeout']
const SELECTION = [
  'decision-log',
  'decision-databases',
  'table',
  'fence-table',
  'prefix',
  'protocol',
  'min-age',
]
/** Where the decision and fence tables are: what init creates and check inspects. */
const TABLES = ['decision-log', 'decision-databases', 'table', 'fences', 'fence-table']
/** The options each command takes: any other is a usage error, never silently ignored. */
const COMMAND_OPTIONS: Readonly<Record<string, ReadonlySet<string>>> = {
  init: new Set([...COMMON, ...TABLES, 'print-sql']),
  check: new Set([...COMMON, ...TABLES, 'concurrency', 'max-clock-skew', 'prefix', 'standby']),
  status: new Set([...COMMON, ...SELECTION]),
  recover: new Set([...COMMON, ...SELECTION, 'dry-run', 'concurrency']),
  watch: new Set([
    ...COMMON,
    ...SELECTION,
    'concurrency',
    'interval',
    'metrics-port',
    'metrics-host',
  ]),
}

/** Exit codes a scheduler can act on. */
const EXIT = {
  /** Nothing left in doubt. */
  done: 0,
  /** Something failed, or needs a person (another decision log, a missing table, malformed ids). */
  failed: 1,
  usage: 2,
  /** Work left for a later round: too young, a decision still open, a branch still attached. */
  later: 3,
} as const

/** Reasons that only time resolves: the next round (or a later one) finishes these. */
const LEFT_FOR_LATER = new Set([
  'too-young',
  'decision-open',
  'attached-to-live-session',
  'in-use',
  'unstable',
  // Another worker is finishing it now; should that worker fail, a later round does.
  'other-worker',
])

function out(text: string): void {
  process.stdout.write(`${redact(text)}\n`)
}

/** Log lines on stderr: timestamp, level, message; JSON objects with --json. Set once parsed. */
let stderrLogger: Logger = cliLogger(false, (line) => process.stderr.write(line))

async function openDatabases(values: Values): Promise<ConnectedDatabase[]> {
  const specs = (values.db ?? []).map(parseDatabaseSpec)
  if (specs.length === 0)
    throw new UsageError('Name the databases with --db NAME=URL (at least one).')
  const names = new Set<string>()
  for (const { name } of specs) {
    if (names.has(name)) throw new UsageError(`--db ${name} is given twice.`)
    names.add(name)
  }
  return Promise.all(specs.map(({ name, url }) => connect(name, url, timeoutsOf(values))))
}

function timeoutsOf(values: Values) {
  return {
    connectTimeoutMs: parseDuration(values['connect-timeout'] ?? '10s', '--connect-timeout'),
    statementTimeoutMs: parseDuration(values['statement-timeout'] ?? '60s', '--statement-timeout'),
  }
}

/** `--standby DB:NAME=URL`: the standbys of each --db, connected. */
async function openStandbys(
  values: Values,
  connected: readonly ConnectedDatabase[],
): Promise<Array<{ readonly of: string; readonly standby: ConnectedDatabase }>> {
  const specs = (values.standby ?? []).map((spec) => {
    const colon = spec.indexOf(':')
    const equals = spec.indexOf('=')
    if (colon <= 0 || (equals !== -1 && colon > equals)) {
      throw new UsageError(
        '--standby takes DB:NAME=URL: the --db it stands by for, then the standby as for --db.',
      )
    }
    const of = spec.slice(0, colon)
    if (!connected.some((entry) => entry.database.name === of)) {
      throw new UsageError(`--standby ${of}:… names no --db.`)
    }
    return { of, ...parseDatabaseSpec(spec.slice(colon + 1)) }
  })
  return Promise.all(
    specs.map(async ({ of, name, url }) => ({
      of,
      standby: await connect(name, url, timeoutsOf(values)),
    })),
  )
}

/** The --db that --decision-log names; undefined without --decision-log. */
function decisionDatabaseOf(
  values: Values,
  connected: readonly ConnectedDatabase[],
): Database | undefined {
  const name = values['decision-log']
  if (name === undefined) return undefined
  const database = connected.find((entry) => entry.database.name === name)?.database
  if (database === undefined) throw new UsageError(`--decision-log ${name} names no --db.`)
  return database
}

/** The --db entries --decision-databases names, with --table if given; empty without it. */
function decisionDatabasesOption(
  values: Values,
  connected: readonly ConnectedDatabase[],
): DecisionLogOptions[] {
  const list = values['decision-databases']
  if (list === undefined) return []
  const names = list.split(',').map((name) => name.trim())
  if (names.some((name) => name === '')) {
    throw new UsageError(
      '--decision-databases takes the names of --db entries, separated by commas.',
    )
  }
  return names.map((name) => {
    const database = connected.find((entry) => entry.database.name === name)?.database
    if (database === undefined) throw new UsageError(`--decision-databases: ${name} names no --db.`)
    return { database, ...(values.table !== undefined && { table: values.table }) }
  })
}

function concurrencyOf(values: Values): number | undefined {
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency)
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new UsageError('--concurrency takes a positive whole number.')
  }
  return concurrency
}

function recoverOptions(values: Values, connected: readonly ConnectedDatabase[]): RecoverOptions {
  const databases = connected.map((entry) => entry.database)
  const decisionLog = decisionDatabaseOf(values, connected)
  const decisionDatabases = decisionDatabasesOption(values, connected)
  const protocol = values.protocol
  if (protocol !== undefined && !['decision', 'sequential', 'all'].includes(protocol)) {
    throw new UsageError(`--protocol takes decision, sequential or all, not "${protocol}".`)
  }
  if (
    protocol !== undefined &&
    protocol !== 'sequential' &&
    decisionLog === undefined &&
    decisionDatabases.length === 0
  ) {
    throw new UsageError(
      `--protocol ${protocol} needs --decision-log NAME or --decision-databases.`,
    )
  }
  const concurrency = concurrencyOf(values)
  return {
    databases,
    ...(values['fence-table'] !== undefined && { fenceTable: values['fence-table'] }),
    ...(decisionLog && {
      decisionLog:
        values.table === undefined ? decisionLog : { database: decisionLog, table: values.table },
    }),
    ...(decisionDatabases.length > 0 && { decisionDatabases }),
    ...(values.prefix !== undefined && { prefix: values.prefix }),
    ...(protocol !== undefined && { protocol: protocol as RecoverOptions['protocol'] & string }),
    ...(values['min-age'] !== undefined && {
      minAge: parseDuration(values['min-age'], '--min-age'),
    }),
    ...(concurrency !== undefined && { concurrency }),
    dryRun: values['dry-run'] === true,
  }
}

/**
 * The exit code of a round: failures, malformed ids and transactions left for a person (another
 * decision log, a missing table …) → 1; transactions left for a later round → 3; else 0. For
 * `status`, transactions recover would finish now count as work for later too.
 */
function exitCode(report: RecoveryReport, command: 'status' | 'recover'): number {
  if (report.counts.failed > 0 || report.malformed.length > 0) return EXIT.failed
  let later = false
  for (const transaction of report.transactions) {
    if (transaction.action === 'left') {
      if (!LEFT_FOR_LATER.has(transaction.left ?? '')) return EXIT.failed
      later = true
    } else if (transaction.action !== 'committed' && transaction.action !== 'rolled-back') {
      later = true
    }
  }
  if (command === 'status' && report.transactions.length > 0) later = true
  return later ? EXIT.later : EXIT.done
}

async function check(values: Values, connected: readonly ConnectedDatabase[]): Promise<number> {
  const decisionDatabase = decisionDatabaseOf(values, connected)
  const decisionDatabases = decisionDatabasesOption(values, connected)
  if (
    values.table !== undefined &&
    decisionDatabase === undefined &&
    decisionDatabases.length === 0
  ) {
    throw new UsageError('--table names the decision table: add --decision-log NAME.')
  }
  if (values['fence-table'] !== undefined && !values.fences) {
    throw new UsageError('--fence-table names the table --fences checks: add --fences.')
  }
  const concurrency = concurrencyOf(values)
  const standbys = await openStandbys(values, connected)
  const byPrimary: Record<string, Database[]> = {}
  for (const { of, standby } of standbys) {
    byPrimary[of] = [...(byPrimary[of] ?? []), standby.database]
  }
  const result = await checkDeployment({
    databases: connected.map((entry) => entry.database),
    ...(standbys.length > 0 && { standbys: byPrimary }),
    ...(decisionDatabase && {
      decisionLog: {
        database: decisionDatabase,
        ...(values.table !== undefined && { table: values.table }),
      },
    }),
    ...(decisionDatabases.length > 0 && { decisionDatabases }),
    ...(values.fences && { fenceTable: values['fence-table'] ?? DEFAULT_FENCE_TABLE }),
    ...(concurrency !== undefined && { concurrency }),
    ...(values.prefix !== undefined && { prefix: values.prefix }),
    ...(values['max-clock-skew'] !== undefined && {
      maxClockSkew: parseDuration(values['max-clock-skew'], '--max-clock-skew'),
    }),
  }).finally(() =>
    Promise.all(standbys.map(({ standby }) => standby.close().catch(() => undefined))),
  )
  if (values.json) {
    out(JSON.stringify(result))
  } else if (result.findings.length === 0) {
    out(`No findings: ${connected.map((entry) => `"${entry.database.name}"`).join(', ')} ready.`)
  } else {
    for (const finding of result.findings) {
      out(
        `${finding.severity.toUpperCase().padEnd(8)} ${finding.database}  ${finding.code}: ${finding.message}\n         fix: ${finding.fix}`,
      )
    }
  }
  return result.ok ? EXIT.done : EXIT.failed
}

async function init(values: Values, connected: readonly ConnectedDatabase[]): Promise<number> {
  const decisionDatabase = decisionDatabaseOf(values, connected)
  const logs = [
    ...(decisionDatabase === undefined ? [] : [{ database: decisionDatabase }]),
    ...decisionDatabasesOption(values, connected).filter(
      (entry) => entry.database !== decisionDatabase,
    ),
  ].map(
    (entry) =>
      new DecisionLog(
        { database: entry.database, ...(values.table !== undefined && { table: values.table }) },
        stderrLogger,
      ),
  )
  if (logs.length === 0) {
    throw new UsageError(
      'txkit init needs --decision-log NAME (or --decision-databases NAME,NAME).',
    )
  }
  if (values['fence-table'] !== undefined && !values.fences) {
    throw new UsageError('--fence-table names the table --fences creates: add --fences.')
  }
  const fences = values.fences
    ? new FenceTable(values['fence-table'] ?? DEFAULT_FENCE_TABLE, stderrLogger)
    : undefined
  if (values['print-sql']) {
    for (const [position, log] of logs.entries()) {
      out(
        `${position === 0 ? '' : '\n'}-- ${log.database.name}\n${log.database.dialect.decisionLogSql(log.table).join(';\n\n')};`,
      )
    }
    for (const { database: each } of fences === undefined ? [] : connected) {
      const sql = FenceTable.dialectOf(each).tableSql((fences as FenceTable).table)
      out(`\n-- ${each.name}\n${sql.join(';\n\n')};`)
    }
    return EXIT.done
  }
  for (const log of logs) await log.create()
  for (const { database: each } of fences === undefined ? [] : connected) {
    await fences?.create(each)
  }
  const tableText = logs[0]?.tableText ?? ''
  const names = logs.map((log) => log.database.name)
  out(
    values.json
      ? JSON.stringify({
          created: tableText,
          database: names[0],
          ...(names.length > 1 && { databases: names }),
          ...(fences && {
            fences: fences.tableText,
            in: connected.map((each) => each.database.name),
          }),
        })
      : `Decision table ${tableText} is ready in ${names.map((name) => `"${name}"`).join(', ')}.${fences === undefined ? '' : ` Fence table ${fences.tableText} is ready in ${connected.map((each) => `"${each.database.name}"`).join(', ')}.`}`,
  )
  return 0
}

async function once(
  values: Values,
  connected: readonly ConnectedDatabase[],
  command: 'status' | 'recover',
): Promise<number> {
  const options = recoverOptions(values, connected)
  const report = await recover({
    ...options,
    dryRun: command === 'status' || options.dryRun === true,
    logger: stderrLogger,
  })
  if (values.json) out(JSON.stringify(report, null, 2))
  else out(command === 'status' ? formatStatus(report) : formatRecovery(report))
  return exitCode(report, command)
}

/**
 * One round of `watch`: take the recovery lock, recover, record and log. A lock held by another
 * worker skips the round (healthy); a lock that cannot be asked for, or a round that throws, is a
 * failed round, logged at error level with the database and the error, and counted.
 */
async function watchRound(
  roundLock: ReturnType<typeof createLock>,
  lockDatabase: Database,
  metrics: RecoveryMetrics,
  round: () => Promise<RecoveryReport>,
): Promise<void> {
  let locked: boolean
  try {
    locked = await roundLock.tryAcquire()
  } catch (error) {
    metrics.recordFailure()
    stderrLogger.error(
      { database: lockDatabase.name, at: lockDatabase.identity, error: errorMessage(error) },
      'txkit watch: round failed: the recovery lock could not be asked for',
    )
    return
  }
  if (!locked) {
    metrics.recordSkipped()
    stderrLogger.info?.(
      {},
      'txkit watch: another worker holds the recovery lock; skipping this round',
    )
    return
  }
  try {
    const report = await round()
    metrics.record(report)
    for (const database of report.databases) {
      if (database.error !== undefined) {
        stderrLogger.warn(
          { database: database.name, error: database.error },
          'txkit watch: a database could not be scanned',
        )
      }
    }
    const { committed, rolledBack, left, failed } = report.counts
    const fields = { committed, rolledBack, left, failed, durationMs: report.durationMs }
    if (failed > 0) stderrLogger.warn(fields, 'txkit watch: round done, with failures')
    else stderrLogger.info?.(fields, 'txkit watch: round done')
  } catch (error) {
    metrics.recordFailure()
    stderrLogger.error({ error: errorMessage(error) }, 'txkit watch: round failed')
  } finally {
    await roundLock.release().catch(() => undefined)
  }
}

/** `txkit watch` checks the setup at start and every so many rounds after. */
const PREFLIGHT_EVERY_ROUNDS = 20

/** The watch's preflight: findings exported as metrics, each new one logged once. */
class WatchPreflight {
  readonly #options: RecoverOptions
  readonly #metrics: RecoveryMetrics
  #logged = new Set<string>()

  constructor(options: RecoverOptions, metrics: RecoveryMetrics) {
    this.#options = options
    this.#metrics = metrics
  }

  async run(): Promise<void> {
    let check: DeploymentCheck
    try {
      check = await checkDeployment({
        databases: this.#options.databases,
        ...(this.#options.decisionLog !== undefined && { decisionLog: this.#options.decisionLog }),
        ...(this.#options.prefix !== undefined && { prefix: this.#options.prefix }),
      })
    } catch (error) {
      stderrLogger.warn({ error: errorMessage(error) }, 'txkit watch: the preflight could not run')
      return
    }
    this.#metrics.recordPreflight(check)
    const seen = new Set<string>()
    for (const finding of check.findings) {
      const key = `${finding.database}:${finding.code}`
      seen.add(key)
      if (this.#logged.has(key)) continue
      const log = finding.severity === 'error' ? stderrLogger.error : stderrLogger.warn
      log.call(
        stderrLogger,
        { database: finding.database, code: finding.code },
        `txkit watch: preflight: ${finding.message} Fix: ${finding.fix}`,
      )
    }
    this.#logged = seen
  }
}

async function watch(values: Values, connected: readonly ConnectedDatabase[]): Promise<number> {
  const options = recoverOptions(values, connected)
  const interval = parseDuration(values.interval ?? '30s', '--interval')
  const metrics = new RecoveryMetrics(interval)
  const port = values['metrics-port'] === undefined ? undefined : Number(values['metrics-port'])
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port < 65536)) {
    throw new UsageError('--metrics-port takes a port number.')
  }
  const server = port === undefined ? undefined : await metrics.serve(port, values['metrics-host'])
  if (server) {
    const address = server.address()
    stderrLogger.info?.(
      { port: typeof address === 'object' && address ? address.port : port },
      'txkit watch: serving /metrics and /healthz',
    )
  }
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const lockDatabase =
    (typeof options.decisionLog === 'object' && 'acquire' in options.decisionLog
      ? options.decisionLog
      : options.decisionLog?.database) ?? connected[0]?.database
  // One worker per round: the others find the lock taken and skip it.
  const roundLock =
    lockDatabase && createLock(lockDatabase, `txkit-recover:${options.prefix ?? 'txkit'}`)
  const preflight = new WatchPreflight(options, metrics)
  for (let round = 0; !stop.signal.aborted; round++) {
    if (round % PREFLIGHT_EVERY_ROUNDS === 0) await preflight.run()
    if (roundLock !== undefined && lockDatabase !== undefined) {
      await watchRound(roundLock, lockDatabase, metrics, () =>
        recover({ ...options, logger: stderrLogger }),
      )
    }
    // sleep() removes its abort listener each time: nothing accumulates over the rounds.
    await sleep(interval, stop.signal)
  }
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  stderrLogger.info?.({}, 'txkit watch: stopped')
  return 0
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out(HELP.main ?? '')
    return command === undefined ? EXIT.usage : EXIT.done
  }
  if (command === '--version' || command === 'version') {
    out(packageVersion())
    return EXIT.done
  }
  if (!['init', 'status', 'recover', 'watch', 'check'].includes(command)) {
    throw new UsageError(`Unknown command "${command}".`)
  }
  let values: Values
  try {
    ;({ values } = parseArgs({
      args: [...rest],
      options: OPTIONS,
      allowPositionals: false,
      strict: true,
    }))
  } catch (error) {
    // parseArgs quotes what it did not expect: never echo it, it may be a password.
    throw new UsageError(
      /positional/i.test(errorMessage(error))
        ? `txkit ${command} takes no arguments besides its options.`
        : errorMessage(error).replace(/'[^']*'/g, (quoted) =>
            quoted.startsWith("'-") ? quoted : "'…'",
          ),
    )
  }
  const allowed = COMMAND_OPTIONS[command] ?? new Set()
  const misplaced = Object.keys(values).filter((name) => !allowed.has(name))
  if (misplaced.length > 0) {
    throw new UsageError(
      `txkit ${command} does not take ${misplaced.map((name) => `--${name}`).join(', ')}.`,
    )
  }
  if (values.help) {
    out(HELP[command] ?? '')
    return EXIT.done
  }
  stderrLogger = cliLogger(values.json === true, (line) => process.stderr.write(line))
  const connected = await openDatabases(values)
  try {
    if (command === 'init') return await init(values, connected)
    if (command === 'check') return await check(values, connected)
    if (command === 'watch') return await watch(values, connected)
    return await once(values, connected, command as 'status' | 'recover')
  } finally {
    await Promise.all(connected.map((entry) => entry.close().catch(() => undefined)))
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    // A bad prefix or table name is found by the library: a usage error all the same.
    if (error instanceof UsageError || isConfigurationError(error)) {
      process.stderr.write(`${redact(`txkit: ${error.message}`)}\nRun txkit --help for usage.\n`)
      process.exitCode = EXIT.usage
    } else {
      process.stderr.write(`${redact(`txkit: ${errorMessage(error)}`)}\n`)
      process.exitCode = 1
    }
  },
)
