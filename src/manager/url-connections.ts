import type { Database } from '../database/database.js'
import { validateDatabaseName } from '../database/database-name.js'
import { openUrlDatabase, type UrlDatabase, type UrlDriver } from '../database/url-driver.js'
import { ConfigurationError } from '../errors/configuration-error.js'

/**
 * The connections a transaction opened for connection strings (`tx.connect`): one per string, each
 * a pool of one connection, all closed when the transaction ends.
 */
export class UrlConnections {
  readonly #drivers: readonly UrlDriver[]
  readonly #opened = new Map<string, Promise<UrlDatabase>>()

  constructor(drivers: readonly UrlDriver[]) {
    this.#drivers = drivers
  }

  /** The database at `url` (opened on first use), named `name` or after the URL's database. */
  async open(url: string, name: string | undefined): Promise<Database> {
    let opening = this.#opened.get(url)
    if (opening === undefined) {
      const stableName = validateDatabaseName(name ?? databaseNameOf(url))
      opening = openUrlDatabase(this.#drivers, stableName, url, { max: 1 })
      this.#opened.set(url, opening)
    }
    return (await opening).database
  }

  /** Closes every connection opened; one that never opened is skipped. */
  async closeAll(): Promise<void> {
    const opened = [...this.#opened.values()]
    this.#opened.clear()
    await Promise.all(
      opened.map((opening) =>
        opening.then(
          ({ close }) => close(),
          () => undefined,
        ),
      ),
    )
  }
}

/** The database name in a connection URL's path, for a default stable name. */
function databaseNameOf(url: string): string {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''))
    if (name !== '') return name
  } catch {
    // reported below
  }
  throw new ConfigurationError(
    'This connection string names no database: pass a stable name, tx.connect(url, "orders").',
  )
}
