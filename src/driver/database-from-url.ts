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

async function loadDriver<Module>(name: string, scheme: string): Promise<Module> {
  try {
    const loaded = (await import(name)) as Module & { default?: Module }
    return loaded.default ?? loaded
  } catch {
    throw new ConfigurationError(
      `${scheme}:// URLs need the "${name}" package: npm install ${name}`,
    )
  }
}

/**
 * Opens a pool for `url` with the driver its scheme names (`postgres://` / `postgresql://`: pg;
 * `mysql://` / `mariadb://`: mysql2) and wraps it as a txkit database named `name`. The drivers
 * stay optional: only the one a URL needs is loaded.
 *
 * @throws ConfigurationError for a URL that cannot be parsed, an unknown scheme or a missing driver.
 * @example
 * ```ts
 * const { database, close } = await databaseFromUrl('orders', process.env.ORDERS_URL ?? '', { max: 4 })
 * ```
 */
export async function databaseFromUrl(
  name: string,
  url: string,
  options: UrlDatabaseOptions = {},
): Promise<UrlDatabase> {
  let scheme: string
  try {
    scheme = new URL(url).protocol.replace(/:$/, '')
  } catch {
    throw new ConfigurationError(
      `"${redactUrl(url)}" is not a connection URL (postgres://user:password@host:5432/db or mysql://…).`,
    )
  }
  const max = options.max ?? 8
  if (scheme === 'postgres' || scheme === 'postgresql') {
    const pg = await loadDriver<typeof import('pg')>('pg', scheme)
    const { pgDatabase } = await import('../pg/index.js')
    const statement = options.statementTimeoutMs
    const pool = new pg.Pool({
      connectionString: url,
      max,
      ...(options.connectTimeoutMs !== undefined && {
        connectionTimeoutMillis: options.connectTimeoutMs,
      }),
      // The server stops the statement; the client gives up a little later if no answer comes.
      ...(statement !== undefined && {
        statement_timeout: statement,
        query_timeout: statement + 1000,
      }),
    })
    // An idle connection cut by the server must not crash the process.
    pool.on('error', () => {})
    return { database: pgDatabase(pool, { name }), close: () => pool.end() }
  }
  if (scheme === 'mysql' || scheme === 'mariadb') {
    const mysql = await loadDriver<typeof import('mysql2/promise')>('mysql2/promise', scheme)
    const { mysqlDatabase } = await import('../mysql/index.js')
    const parsed = new URL(url)
    parsed.protocol = 'mysql:'
    const pool = mysql.createPool({
      uri: parsed.toString(),
      connectionLimit: max,
      ...(options.connectTimeoutMs !== undefined && { connectTimeout: options.connectTimeoutMs }),
    })
    const queryTimeout = options.statementTimeoutMs
    return {
      database: mysqlDatabase(pool, { name, ...(queryTimeout !== undefined && { queryTimeout }) }),
      close: () => pool.end(),
    }
  }
  throw new ConfigurationError(
    `Unsupported scheme "${scheme}://" in ${redactUrl(url)}: use postgres://, postgresql://, mysql:// or mariadb://.`,
  )
}
