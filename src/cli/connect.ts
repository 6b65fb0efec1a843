import type { Database } from '../database/database.js'
import { validateDatabaseName } from '../database/database-name.js'
import { openUrlDatabase, type UrlDriver, UrlDriverMissing } from '../database/url-driver.js'
import { isConfigurationError } from '../errors/configuration-error.js'
import { DRIVER_CHOICES } from './url-drivers.js'
import { UsageError } from './usage-error.js'

/** A database named on the command line, connected through the driver its URL asks for. */
export interface ConnectedDatabase {
  readonly database: Database
  readonly url: string
  close(): Promise<void>
}

const ENV_PREFIX = 'TXKIT_DB_'

/**
 * Reads `NAME=URL`, `NAME=env:VARIABLE`, or a bare `NAME` (then the URL is in `TXKIT_DB_<NAME>`,
 * upper-cased, with `-` and `.` as `_`), so that passwords can stay off the command line. A value
 * that is wrong is never quoted, since it may hold a password; only a name before `=` is.
 */
export function parseDatabaseSpec(spec: string): { name: string; url: string } {
  const equals = spec.indexOf('=')
  const name = equals === -1 ? spec : spec.slice(0, equals)
  try {
    validateDatabaseName(name)
  } catch (error) {
    // Before "=" is the name, unless it looks like a URL whose NAME= was left off.
    throw new UsageError(
      equals !== -1 && !/[:@/]/.test(name)
        ? `--db: ${(error as Error).message}`
        : `--db takes NAME=URL, NAME=env:VARIABLE or NAME: this value (not shown: it may hold a password) does not start with a name (1 to 64 letters, digits, "_", "." or "-") and "=", as in --db orders=postgres://…`,
    )
  }
  let url: string | undefined
  let source: string
  if (equals === -1) {
    source = `${ENV_PREFIX}${name.toUpperCase().replace(/[-.]/g, '_')}`
    url = process.env[source]
  } else if (spec.slice(equals + 1).startsWith('env:')) {
    source = spec.slice(equals + 5)
    url = process.env[source]
  } else {
    source = 'the command line'
    url = spec.slice(equals + 1)
  }
  if (url === undefined || url === '') {
    throw new UsageError(
      `--db ${name}: no URL (looked in ${source}). Give NAME=URL, NAME=env:VARIABLE, or set ${ENV_PREFIX}${name.toUpperCase()}.`,
    )
  }
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || !URL.canParse(url)) {
    // Not echoed: what is not a URL may well be a password typed in the wrong place.
    throw new UsageError(
      `--db ${name}: the value (from ${source}) is not a URL: give one that starts with its scheme and //, such as postgres://app:…@db1:5432/orders or mysql://….`,
    )
  }
  return { name, url }
}

/** How the CLI opens URLs: the drivers in order of preference (see `urlDriversOf`), its timeouts. */
export interface OpenOptions {
  readonly drivers: readonly UrlDriver[]
  readonly connectTimeoutMs: number
  readonly statementTimeoutMs: number
}

/**
 * Opens a small pool for the URL with the first of `drivers` that takes its scheme and is
 * installed, with the CLI's timeouts.
 */
export async function connect(
  name: string,
  url: string,
  { drivers, ...timeouts }: OpenOptions,
): Promise<ConnectedDatabase> {
  try {
    const { database, close } = await openUrlDatabase(drivers, name, url, timeouts)
    return { database, url, close }
  } catch (error) {
    if (isConfigurationError(error)) {
      throw new UsageError(
        `--db ${name}: ${error.message}${error.cause instanceof UrlDriverMissing ? ` Or choose an installed driver: --driver takes ${DRIVER_CHOICES}.` : ''}`,
      )
    }
    throw error
  }
}
