#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { DecisionLog } from '../commit/decision-log.js'
import type { Database } from '../driver/database.js'
import { createLock } from '../lock/database-lock.js'
import { type RecoverOptions, recover } from '../recovery/recover.js'
import type { RecoveryReport } from '../recovery/recovery-report.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import { type ConnectedDatabase, connect, parseDatabaseSpec } from './connect.js'
import { parseDuration } from './duration.js'
import { formatRecovery, formatStatus } from './format-report.js'
import { RecoveryMetrics } from './metrics.js'
import { redact } from './redact.js'
import { UsageError } from './usage-error.js'

const DATABASE_HELP = `  --db NAME=URL          a database of the deployment (repeat for each). URL: postgres://,
                         postgresql://, mysql:// or mariadb://. To keep passwords off the
                         command line: --db NAME=env:VARIABLE, or --db NAME alone with the URL
                         in TXKIT_DB_<NAME>. Passwords are never printed.`
const SELECTION_HELP = `  --decision-log NAME    the database holding the decision table (required for the
                         decision protocol)
  --table NAME           the decision table (default txkit_decision)
  --prefix P             the writers' deployment prefix (default txkit)
  --protocol P           decision | sequential | all (default: decision with --decision-log,
                         else sequential)
  --min-age D            leave younger transactions alone; for sequential, the wait between
                         the two scans (default 15s)
  --json                 print JSON instead of text`

const HELP: Record<string, string> = {
  main: `txkit — atomic commit across databases, and recovery of in-doubt transactions

Usage: txkit <command> [options]

Commands:
  init      create the decision table
  status    show our prepared transactions and what recover would do
  recover   finish in-doubt transactions once, print what was done
  watch     recover every interval, serve Prometheus metrics

Run txkit <command> --help for its options.
Exit codes: 0 nothing left in doubt, 1 something failed or was left, 2 usage error.`,
  init: `Usage: txkit init --db NAME=URL --decision-log NAME [--table NAME]

Creates the decision table (if it does not exist) in the decision database.

${DATABASE_HELP}
  --decision-log NAME    which of the databases holds it
  --table NAME           table name, or schema.table (default txkit_decision)`,
  status: `Usage: txkit status --db NAME=URL [--db …] [options]

Lists our prepared transactions with their age, decision and what recover would do. Changes
nothing. Exit code 1 when any is in doubt.

${DATABASE_HELP}
${SELECTION_HELP}`,
  recover: `Usage: txkit recover --db NAME=URL [--db …] [options] [--dry-run]

Finishes every in-doubt transaction once: commits on a 'C' decision, rolls back on 'A', records
'A' when there is no decision and the coordinator is gone. Never touches transactions with
another prefix. Safe to run from several places at once and while writers are live.

${DATABASE_HELP}
${SELECTION_HELP}
  --dry-run              report what would be done, change nothing
  --concurrency N        transactions finished at once (default 8)`,
  watch: `Usage: txkit watch --db NAME=URL [--db …] [options] --interval 30s [--metrics-port 9464]

Recovers every interval until SIGINT or SIGTERM (the current round finishes first). Several
watch processes can run: a lock on the decision database (or the first database) lets one work
per round. Logs one line per round.

${DATABASE_HELP}
${SELECTION_HELP}
  --interval D           time between rounds (default 30s)
  --metrics-port N       serve /metrics (Prometheus) and /healthz on this port
  --metrics-host H       address to serve them on (default 127.0.0.1)`,
}

const OPTIONS = {
  db: { type: 'string', multiple: true },
  'decision-log': { type: 'string' },
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
  help: { type: 'boolean', short: 'h' },
} as const

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values']

function out(text: string): void {
  process.stdout.write(`${redact(text)}\n`)
}

/** Log lines for the worker: one JSON object per line on stderr, passwords redacted. */
const stderrLogger: Logger = {
  info: (fields, message) =>
    process.stderr.write(`${redact(JSON.stringify({ level: 'info', message, ...fields }))}\n`),
  warn: (fields, message) =>
    process.stderr.write(`${redact(JSON.stringify({ level: 'warn', message, ...fields }))}\n`),
  error: (fields, message) =>
    process.stderr.write(`${redact(JSON.stringify({ level: 'error', message, ...fields }))}\n`),
}

async function openDatabases(values: Values): Promise<ConnectedDatabase[]> {
  const specs = (values.db ?? []).map(parseDatabaseSpec)
  if (specs.length === 0)
    throw new UsageError('Name the databases with --db NAME=URL (at least one).')
  const names = new Set<string>()
  for (const { name } of specs) {
    if (names.has(name)) throw new UsageError(`--db ${name} is given twice.`)
    names.add(name)
  }
  return Promise.all(specs.map(({ name, url }) => connect(name, url)))
}

function recoverOptions(values: Values, connected: readonly ConnectedDatabase[]): RecoverOptions {
  const databases = connected.map((entry) => entry.database)
  const decisionName = values['decision-log']
  let decisionLog: Database | undefined
  if (decisionName !== undefined) {
    decisionLog = databases.find((database) => database.name === decisionName)
    if (decisionLog === undefined) {
      throw new UsageError(`--decision-log ${decisionName} names no --db.`)
    }
  }
  const protocol = values.protocol
  if (protocol !== undefined && !['decision', 'sequential', 'all'].includes(protocol)) {
    throw new UsageError(`--protocol takes decision, sequential or all, not "${protocol}".`)
  }
  if (protocol !== undefined && protocol !== 'sequential' && decisionLog === undefined) {
    throw new UsageError(`--protocol ${protocol} needs --decision-log NAME.`)
  }
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency)
  if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency > 0)) {
    throw new UsageError('--concurrency takes a positive whole number.')
  }
  return {
    databases,
    ...(decisionLog && {
      decisionLog:
        values.table === undefined ? decisionLog : { database: decisionLog, table: values.table },
    }),
    ...(values.prefix !== undefined && { prefix: values.prefix }),
    ...(protocol !== undefined && { protocol: protocol as RecoverOptions['protocol'] & string }),
    ...(values['min-age'] !== undefined && {
      minAge: parseDuration(values['min-age'], '--min-age'),
    }),
    ...(concurrency !== undefined && { concurrency }),
    dryRun: values['dry-run'] === true,
  }
}

function inDoubt(report: RecoveryReport): boolean {
  return (
    report.counts.failed > 0 ||
    report.transactions.some(
      (transaction) => !['committed', 'rolled-back'].includes(transaction.action),
    ) ||
    report.malformed.length > 0
  )
}

async function init(values: Values, connected: readonly ConnectedDatabase[]): Promise<number> {
  const name = values['decision-log']
  if (name === undefined) throw new UsageError('txkit init needs --decision-log NAME.')
  const database = connected.find((entry) => entry.database.name === name)?.database
  if (database === undefined) throw new UsageError(`--decision-log ${name} names no --db.`)
  const log = new DecisionLog(
    { database, ...(values.table !== undefined && { table: values.table }) },
    stderrLogger,
  )
  await log.create()
  out(
    values.json
      ? JSON.stringify({ created: log.tableText, database: name })
      : `Decision table ${log.tableText} is ready in "${name}".`,
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
  if (command === 'status')
    return report.transactions.length > 0 || report.counts.failed > 0 || report.malformed.length > 0
      ? 1
      : 0
  return inDoubt(report) ? 1 : 0
}

async function watch(values: Values, connected: readonly ConnectedDatabase[]): Promise<number> {
  const options = recoverOptions(values, connected)
  const interval = parseDuration(values.interval ?? '30s', '--interval')
  const metrics = new RecoveryMetrics()
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
  while (!stop.signal.aborted) {
    const locked = roundLock ? await roundLock.tryAcquire().catch(() => false) : false
    if (!locked || roundLock === undefined) {
      stderrLogger.info?.(
        {},
        'txkit watch: another worker holds the recovery lock (or the lock database is unreachable); skipping this round',
      )
    } else {
      try {
        const report = await recover({ ...options, logger: stderrLogger })
        metrics.record(report)
        const { committed, rolledBack, left, failed } = report.counts
        stderrLogger.info?.(
          { committed, rolledBack, left, failed, durationMs: report.durationMs },
          'txkit watch: round done',
        )
      } catch (error) {
        stderrLogger.error({ error: errorMessage(error) }, 'txkit watch: round failed')
      } finally {
        await roundLock.release().catch(() => undefined)
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, interval)
      stop.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        { once: true },
      )
    })
  }
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  stderrLogger.info?.({}, 'txkit watch: stopped')
  return 0
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out(HELP.main ?? '')
    return command === undefined ? 2 : 0
  }
  if (!['init', 'status', 'recover', 'watch'].includes(command)) {
    throw new UsageError(`Unknown command "${command}".`)
  }
  let values: Values
  try {
    ;({ values } = parseArgs({
      args: [...rest],
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    }))
  } catch (error) {
    throw new UsageError(errorMessage(error))
  }
  if (values.help) {
    out(HELP[command] ?? '')
    return 0
  }
  const connected = await openDatabases(values)
  try {
    if (command === 'init') return await init(values, connected)
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
    if (error instanceof UsageError) {
      process.stderr.write(`${redact(`txkit: ${error.message}`)}\nRun txkit --help for usage.\n`)
      process.exitCode = 2
    } else {
      process.stderr.write(`${redact(`txkit: ${errorMessage(error)}`)}\n`)
      process.exitCode = 1
    }
  },
)
