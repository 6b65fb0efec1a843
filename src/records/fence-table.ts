import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { FenceDialect, FenceKey } from '../dialect/fence-dialect.js'
import { parseTableName, type TableName } from '../dialect/table-name.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'
import { BatchedDeletion } from './batched-deletion.js'

/** The fence table's name in every database of a parallel transaction, unless configured. */
export const DEFAULT_FENCE_TABLE = 'txkit_fence'

/**
 * The parallel protocol's fence table, one of the same name in every participating database. A
 * branch's fence row commits with the branch; once the transaction's row says 'C' the rows are
 * deleted in batches per database, off the commit path (recovery collects any left behind).
 */
export class FenceTable {
  readonly table: TableName
  readonly tableText: string
  readonly #logger: Logger
  readonly #finished = new BatchedDeletion<Database, FenceKey>((database, keys) =>
    this.#delete(database, keys),
  )

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

  /**
   * Whether `database` shows the fence row of branch `key` committed: proof that the branch
   * committed. False when it cannot be read.
   */
  async showsCommitted(database: Database, key: FenceKey): Promise<boolean> {
    try {
      const fences = FenceTable.dialectOf(database)
      return await withConnection(database, (connection) =>
        fences.showsCommitted(connection, this.table, key),
      )
    } catch {
      return false
    }
  }

  /** Queues the fence rows of a committed transaction's branches for deletion. */
  forget(database: Database, key: FenceKey): void {
    this.#finished.queue(database, key)
  }

  /** Deletes the queued rows now. Never throws: a row left behind is removed by recovery later. */
  flush(): Promise<void> {
    return this.#finished.flush()
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
