import type { Values } from './cli-options.js'
import { type ConnectedDatabase, connect, type OpenOptions, parseDatabaseSpec } from './connect.js'
import { parseDuration } from './duration.js'
import { checkDriversUsed, urlDriversOf } from './url-drivers.js'
import { UsageError } from './usage-error.js'

/** Connects every `--db`: at least one, each name once. */
export async function openDatabases(values: Values): Promise<ConnectedDatabase[]> {
  const specs = (values.db ?? []).map(parseDatabaseSpec)
  if (specs.length === 0)
    throw new UsageError('Name the databases with --db NAME=URL (at least one).')
  const names = new Set<string>()
  for (const { name } of specs) {
    if (names.has(name)) throw new UsageError(`--db ${name} is given twice.`)
    names.add(name)
  }
  const options = openOptionsOf(values)
  checkDriversUsed(
    values,
    specs.map(({ url }) => url),
  )
  return Promise.all(specs.map(({ name, url }) => connect(name, url, options)))
}

function openOptionsOf(values: Values): OpenOptions {
  return {
    drivers: urlDriversOf(values),
    connectTimeoutMs: parseDuration(values['connect-timeout'] ?? '10s', '--connect-timeout'),
    statementTimeoutMs: parseDuration(values['statement-timeout'] ?? '60s', '--statement-timeout'),
  }
}

/** `--standby DB:NAME=URL`: the standbys of each --db, connected. */
export async function openStandbys(
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
      standby: await connect(name, url, openOptionsOf(values)),
    })),
  )
}
