import { ConfigurationError } from '../errors/configuration-error.js'
import { redactUrl } from '../util/redact-url.js'
import type { Database } from './database.js'

/** A database opened from a URL, with the pool txkit made for it. */
export interface UrlDatabase {
  readonly database: Database
  /** Ends the pool (and so its connections). */
  close(): Promise<void>
}

/** How a pool opened from a URL is sized and bounded. */
export interface UrlDatabaseOptions {
  /** Connections in the pool (default 8). */
  readonly max?: number
  /** Give up connecting after this many ms (default: the driver's). */
  readonly connectTimeoutMs?: number
  /**
   * Give up on any statement after this many ms, on the client's side too, so that a server that
   * accepts and never answers fails the call instead of hanging it (default: none).
   */
  readonly statementTimeoutMs?: number
}

/**
 * Opens pools for connection URLs of some schemes with one driver. Each driver's entry point
 * exports one (`nodePostgresUrls` from `txkit/node-postgres`, `mysql2Urls` from `txkit/mysql2` …);
 * the manager's `urlDrivers` option and the CLI take a list of them.
 */
export interface UrlDriver {
  /** The driver's package, for messages (`pg`, `postgres`, `mysql2`, `mariadb`). */
  readonly packageName: string
  /** URL schemes it opens, without the colon (`postgres`, `postgresql`). */
  readonly schemes: readonly string[]
  /** Opens a pool for `url` and wraps it as a txkit database named `name`. */
  open(name: string, url: string, options: UrlDatabaseOptions): Promise<UrlDatabase>
}

/** Thrown by a URL driver whose package is not installed: the next driver for the scheme is tried. */
export class UrlDriverMissing extends ConfigurationError {}

/**
 * Loads an optional driver package for a URL driver; a missing package is a `UrlDriverMissing`
 * naming the install command.
 *
 * @example
 * ```ts
 * const pg = await loadDriverPackage<typeof import('pg')>('pg', 'postgres')
 * ```
 */
export async function loadDriverPackage<Module>(name: string, scheme: string): Promise<Module> {
  try {
    const loaded = (await import(name)) as Module & { default?: Module }
    return loaded.default ?? loaded
  } catch {
    throw new UrlDriverMissing(`${scheme}:// URLs need the "${name}" package: npm install ${name}`)
  }
}

/**
 * The scheme of a connection URL. A value that is not `scheme://…` is a ConfigurationError that
 * never quotes it: without its scheme, `user:password@host/db` reads as the scheme `user:`, and
 * what is not a URL may be a password typed in the wrong place.
 */
export function urlScheme(url: string): string {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]
  if (scheme !== undefined && URL.canParse(url)) return scheme.toLowerCase()
  throw new ConfigurationError(
    'The connection URL (not shown: it may hold a password) is not a URL: give one that starts with its scheme and //, such as postgres://app:…@db1:5432/orders or mysql://….',
  )
}

/**
 * Opens `url` with the first of `drivers` that takes its scheme and whose package is installed,
 * and wraps it as a txkit database named `name`. Only the driver a URL needs is loaded.
 *
 * @throws ConfigurationError for a URL that cannot be parsed, a scheme no driver takes, or no
 *   installed package for it.
 * @example
 * ```ts
 * import { nodePostgresUrls } from 'txkit/node-postgres'
 *
 * const { database, close } = await openUrlDatabase([nodePostgresUrls], 'orders', process.env.ORDERS_URL ?? '', { max: 4 })
 * ```
 */
export async function openUrlDatabase(
  drivers: readonly UrlDriver[],
  name: string,
  url: string,
  options: UrlDatabaseOptions = {},
): Promise<UrlDatabase> {
  const scheme = urlScheme(url)
  const candidates = drivers.filter((driver) => driver.schemes.includes(scheme))
  if (candidates.length === 0) {
    const known = [...new Set(drivers.flatMap((driver) => driver.schemes))]
    throw new ConfigurationError(
      known.length === 0
        ? `No URL drivers are configured to open ${redactUrl(url)}: pass urlDrivers, such as [nodePostgresUrls] from "txkit/node-postgres" or [mysql2Urls] from "txkit/mysql2".`
        : `Unsupported scheme "${scheme}://" in ${redactUrl(url)}: use ${known.map((s) => `${s}://`).join(', ')}.`,
    )
  }
  let missing: UrlDriverMissing | undefined
  for (const driver of candidates) {
    try {
      return await driver.open(name, url, options)
    } catch (error) {
      if (!(error instanceof UrlDriverMissing)) throw error
      missing ??= error
    }
  }
  throw new ConfigurationError(
    `${scheme}:// URLs need one of these packages: ${candidates.map((d) => d.packageName).join(', ')} (npm install ${candidates[0]?.packageName}).`,
    { cause: missing },
  )
}
