import type { Database } from '../../database/database.js'
import { createLock } from '../../lock/create-lock.js'
import type { RecoveryReport } from '../../protocol/recovery-report.js'
import { recover } from '../../recovery/recover.js'
import { checkOptions } from '../../recovery/recover-options.js'
import { errorMessage } from '../../util/error-message.js'
import type { Logger } from '../../util/logger.js'
import { sleep } from '../../util/sleep.js'
import { COMMON, DATABASE_HELP, SELECTION, SELECTION_HELP, TIMEOUT_HELP } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { parseDuration } from '../duration.js'
import { EXIT } from '../exit-codes.js'
import { RecoveryMetrics } from '../metrics.js'
import { listeningPort, metricsPort } from '../metrics-server.js'
import { progressPrinter, progressTimes } from '../progress-printer.js'
import { recoverOptions } from '../recover-options.js'
import { UsageError } from '../usage-error.js'
import { WatchPreflight } from './watch-preflight.js'

/** `txkit watch`: recovers every interval until stopped, serving Prometheus metrics. */
export const watchCommand: Command = {
  name: 'watch',
  help: `Usage: txkit watch --db NAME=URL [--db …] [options] --interval 30s [--metrics-port 9464]

Recovers every interval until SIGINT or SIGTERM (the current round finishes first). Several
watch processes can run: a lock on the decision database (or the first database) lets one work
per round. Logs one line per round, and a long round's progress every 5 s. Runs txkit check's
inspection at start and every 20 rounds: new findings are logged, all are served as
txkit_preflight_* metrics.

${DATABASE_HELP}
${TIMEOUT_HELP}
${SELECTION_HELP}
  --interval D           time between rounds (default 30s, at least 10ms)
  --metrics-port N       serve /metrics (Prometheus) and /healthz on this port
  --metrics-host H       address to serve them on (default 127.0.0.1)`,
  options: new Set([
    ...COMMON,
    ...SELECTION,
    'concurrency',
    'interval',
    'metrics-port',
    'metrics-host',
  ]),
  run: watch,
}

/**
 * One round of `watch`: take the recovery lock, recover, record and log. A lock held by another
 * worker skips the round (healthy); a lock that cannot be asked for, or a round that throws, is a
 * failed round, logged at error level with the database and the error, and counted.
 */
async function watchRound(
  logger: Logger,
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
    logger.error(
      { database: lockDatabase.name, at: lockDatabase.identity, error: errorMessage(error) },
      'txkit watch: round failed: the recovery lock could not be asked for',
    )
    return
  }
  if (!locked) {
    metrics.recordSkipped()
    logger.info?.({}, 'txkit watch: another worker holds the recovery lock; skipping this round')
    return
  }
  try {
    const report = await round()
    metrics.record(report)
    for (const database of report.databases) {
      if (database.error !== undefined) {
        logger.warn(
          { database: database.name, error: database.error },
          'txkit watch: a database could not be scanned',
        )
      }
    }
    const { committed, rolledBack, left, failed } = report.counts
    const fields = { committed, rolledBack, left, failed, durationMs: report.durationMs }
    if (failed > 0) logger.warn(fields, 'txkit watch: round done, with failures')
    else logger.info?.(fields, 'txkit watch: round done')
  } catch (error) {
    metrics.recordFailure()
    logger.error({ error: errorMessage(error) }, 'txkit watch: round failed')
  } finally {
    await roundLock.release().catch(() => undefined)
  }
}

/** `txkit watch` checks the setup at start and every so many rounds after. */
const PREFLIGHT_EVERY_ROUNDS = 20

/** The shortest `--interval`: rounds never run back to back, hammering the databases. */
const MIN_INTERVAL_MS = 10

async function watch({ values, connected, logger }: CommandContext): Promise<number> {
  const options = recoverOptions(values, connected)
  // What every round would refuse (a bad --prefix, --table, --fence-table) is refused at start,
  // as status and recover refuse it, instead of failing every round.
  checkOptions(options)
  const interval = parseDuration(values.interval ?? '30s', '--interval')
  if (interval < MIN_INTERVAL_MS) {
    throw new UsageError(
      `--interval is the pause between rounds: at least ${MIN_INTERVAL_MS}ms (30s by default).`,
    )
  }
  const metrics = new RecoveryMetrics(interval)
  const port = metricsPort(values['metrics-port'])
  const server = port === undefined ? undefined : await metrics.serve(port, values['metrics-host'])
  if (server && port !== undefined) {
    logger.info?.(
      { port: listeningPort(server, port) },
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
  const preflight = new WatchPreflight(options, metrics, logger)
  for (let round = 0; !stop.signal.aborted; round++) {
    if (round % PREFLIGHT_EVERY_ROUNDS === 0) await preflight.run()
    if (roundLock !== undefined && lockDatabase !== undefined) {
      // A long round logs how far it is every 5 s.
      const onProgress = progressPrinter({
        label: 'txkit watch',
        logger,
        ...progressTimes(5000, 5000),
      })
      await watchRound(logger, roundLock, lockDatabase, metrics, () =>
        recover({ ...options, logger, onProgress }),
      )
    }
    // sleep() removes its abort listener each time: nothing accumulates over the rounds.
    await sleep(interval, stop.signal)
  }
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)))
  logger.info?.({}, 'txkit watch: stopped')
  return EXIT.done
}
