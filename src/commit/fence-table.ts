import type { FenceDialect, FenceKey } from '../dialect/fence-dialect.js'
import { parseTableName, type TableName } from '../dialect/table-name.js'
import type { Database } from '../driver/database.js'
import { withConnection } from '../driver/with-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'

/** The fence table's name in every database of a parallel transaction, unless configured. */
export const DEFAULT_FENCE_TABLE = 'txkit_fence'

const FLUSH_DELAY_MS = 1000
const FLUSH_BATCH = 500

/**
 * The parallel protocol's fence table, one of the same name in every participating database. A
 * branch's fence row commits with the branch; once the transaction's row says 'C' the rows are
 * deleted in batches per database, off the commit path (recovery collects any left behind).
 */
export class FenceTable {
  readonly table: TableName
  readonly tableText: string
  readonly #logger: Logger
  readonly #finished = new Map<Database, FenceKey[]>()
  #timer: NodeJS.Timeout | undefined
  #flushing: Promise<void> = Promise.resolve()

  constructor(tableText: string, logger: Logger) {
    this.tableText = tableText
    this.table = parseTableName(tableText, 'fence table')
    this.#logger = logger
  }

  /**
   * The fence dialect of `database`.
   *
   * @throws ConfigurationError when the database cannot take part in a parallel transaction.
   */
  static dialectOf(database: Database): FenceDialect {
    const fences = database.dialect.fences
    if (fences === undefined) {
      throw new ConfigurationError(
        `Database "${database.name}" (${database.dialect.displayName}) cannot take part in a parallel transaction: it has no fence rows. Use the decision protocol for transactions that include it.`,
      )
    }
    return fences
  }

  /** Creates the fence table in `database` if it does not exist. */
  async create(database: Database): Promise<void> {
    const fences = FenceTable.dialectOf(database)
    await withConnection(database, (connection) => fences.createTable(connection, this.table))
  }

  /** Queues the fence rows of a committed transaction's branches for deletion. */
  forget(database: Database, key: FenceKey): void {
    const keys = this.#finished.get(database)
    if (keys === undefined) this.#finished.set(database, [key])
    else keys.push(key)
    if ((keys?.length ?? 1) >= FLUSH_BATCH) {
      void this.flush()
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => void this.flush(), FLUSH_DELAY_MS)
      this.#timer.unref()
    }
  }

  /** Deletes the queued rows now. Never throws: a row left behind is removed by recovery later. */
  flush(): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const batches = [...this.#finished]
    this.#finished.clear()
    this.#flushing = this.#flushing.then(() =>
      Promise.all(batches.map(([database, keys]) => this.#delete(database, keys))).then(() => {}),
    )
    return this.#flushing
  }

  async #delete(database: Database, keys: FenceKey[]): Promise<void> {
    try {
      const fences = FenceTable.dialectOf(database)
      await withConnection(database, (connection) => fences.delete(connection, this.table, keys))
    } catch (error) {
      this.#logger.warn(
        { database: database.name, count: keys.length, error: errorMessage(error) },
        'txkit: could not delete finished fence rows; recovery removes them later',
      )
    }
  }
}
