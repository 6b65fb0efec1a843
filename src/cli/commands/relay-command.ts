import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Database } from '../../database/database.js'
import { isBrokerSetupError } from '../../errors/broker-setup-error.js'
import { createRelay } from '../../relay/relay.js'
import type { RelayOptions } from '../../relay/relay-options.js'
import { describeValue } from '../../util/describe-value.js'
import { errorMessage } from '../../util/error-message.js'
import { redactUrlsIn } from '../../util/redact-url.js'
import { COMMON, DATABASE_HELP, TIMEOUT_HELP } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { listeningPort, metricsPort, serveMetrics } from '../metrics-server.js'
import { relayMetricsText } from '../relay-metrics-text.js'
import { UsageError } from '../usage-error.js'

/** `txkit relay`: publishes the outbox of every --db until SIGINT or SIGTERM. */
export const relayCommand: Command = {
  name: 'relay',
  help: `Usage: txkit relay --db NAME=URL [--db …] --config ./relay.mjs

Publishes committed outbox messages of every --db to their brokers until SIGINT or SIGTERM
(the current batch finishes first). Logs one line per batch that found messages. Several relays
can run at once: each claims messages the others do not hold, keys stay in order.

The config module's default export is the relay's options without databases (or a function,
maybe async, answering them, called with { databases: { NAME: database } }):

  export default {
    outbox: { destinations: { orders: { broker: 'rabbitmq' } }, table: 'txkit_outbox' },
    brokers: { rabbitmq: amqpBroker(connection) },
    batchSize: 200, maxAttempts: 10, pollInterval: { min: 100, max: 5000 },
  }

Exit code 2 when the config, an outbox table or a broker is wrong (the message says what).

${DATABASE_HELP}
${TIMEOUT_HELP}
  --config FILE          the module exporting the relay's outbox and brokers
  --metrics-port N       serve /metrics (Prometheus: txkit_outbox_pending, …_oldest_pending_age_seconds,
                         …_published_total, …_failed_total, …_dead_lettered_total, …) on this port
  --metrics-host H       address to serve them on (default 127.0.0.1)
  --json                 log JSON lines instead of text`,
  options: new Set([...COMMON, 'config', 'metrics-port', 'metrics-host']),
  run: relay,
}

const CONFIG_KEYS = new Set([
  'outbox',
  'brokers',
  'batchSize',
  'maxAttempts',
  'retryDelay',
  'pollInterval',
  'listen',
  'retention',
  'gcInterval',
  'parallelBatches',
])

async function loadConfig(
  file: string,
  databases: Record<string, Database>,
): Promise<Omit<RelayOptions, 'databases'>> {
  let module: { default?: unknown }
  try {
    module = (await import(pathToFileURL(resolve(file)).href)) as { default?: unknown }
  } catch (error) {
    throw new UsageError(`--config ${file} could not be loaded: ${errorMessage(error)}`)
  }
  let config = module.default
  if (typeof config === 'function')
    config = await (config as (context: object) => unknown)({ databases })
  if (config === null || typeof config !== 'object') {
    throw new UsageError(
      `--config ${file} must export default { outbox, brokers } (or a function answering it), not ${describeValue(config)}.`,
    )
  }
  for (const key of Object.keys(config)) {
    if (!CONFIG_KEYS.has(key)) {
      throw new UsageError(
        `--config ${file}: unknown key "${key}" (known: ${[...CONFIG_KEYS].join(', ')}; the databases come from --db).`,
      )
    }
  }
  return config as Omit<RelayOptions, 'databases'>
}

async function relay({ values, connected, logger }: CommandContext): Promise<number> {
  if (values.config === undefined) {
    throw new UsageError('txkit relay needs --config FILE: the outbox and the brokers.')
  }
  const port = metricsPort(values['metrics-port'])
  const databases = Object.fromEntries(connected.map(({ database }) => [database.name, database]))
  const config = await loadConfig(values.config, databases)
  const running = createRelay({
    ...config,
    databases: connected.map(({ database }) => database),
    logger,
  })
  const stop = new AbortController()
  const onSignal = () => stop.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await running.start()
  } catch (error) {
    await running.stop().catch(() => undefined)
    if (!isBrokerSetupError(error)) throw error
    process.stderr.write(`${redactUrlsIn(`txkit relay: ${error.message}`)}\n`)
    return EXIT.usage
  }
  const server =
    port === undefined
      ? undefined
      : await serveMetrics(port, values['metrics-host'], {
          metrics: () => relayMetricsText(running.metrics),
        })
  if (server !== undefined && port !== undefined) {
    logger.info?.({ port: listeningPort(server, port) }, 'txkit relay: serving /metrics')
  }
  await new Promise((done) => stop.signal.addEventListener('abort', done, { once: true }))
  logger.info?.({}, 'txkit relay: stopping after the current batch')
  await running.stop()
  await new Promise((done) => server?.close(done) ?? done(undefined))
  const { published, failed, deadLettered } = running.metrics
  logger.info?.({ published, failed, deadLettered }, 'txkit relay: done')
  return EXIT.done
}
