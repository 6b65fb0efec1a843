import type {
  BranchGuard,
  DriverConnection,
  QueryResult,
} from '../../../driver/driver-connection.js'
import { LostListeners } from '../../../driver/lost-listeners.js'
import { mysqlDialect } from '../../mysql-dialect.js'
import { guardMariadbConnection } from './mariadb-guard.js'

/** The part of a `mariadb` connector `PoolConnection` (promise API) txkit uses. */
export interface MariadbConnectionLike {
  query(sql: string | { sql: string; timeout?: number }, values?: unknown): Promise<unknown>
  release(): Promise<void>
  destroy(): void
  /** The server's id of this session, for `KILL QUERY`. */
  readonly threadId: number | null
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown
  removeListener(event: 'error' | 'end', listener: (error?: Error) => void): unknown
}

/** The part of a `mariadb` connector `Pool` (promise API) txkit uses. */
export interface MariadbPoolLike<Connection extends MariadbConnectionLike = MariadbConnectionLike> {
  getConnection(): Promise<Connection>
}

/** What the connector answers to a statement that returns no rows. */
interface OkPacket {
  readonly affectedRows?: number | bigint
  readonly insertId?: number | bigint
}

/** One checked-out (or lent) connector connection as txkit's connection. */
export class MariadbConnection<Connection extends MariadbConnectionLike>
  implements DriverConnection<Connection>
{
  readonly raw: Connection
  /** Undefined for a connection the caller lent: never released here. */
  readonly #pool: MariadbPoolLike | undefined
  readonly #queryTimeout: number | undefined
  readonly #lost = new LostListeners()
  readonly #onGone = (): void => {
    this.#lost.markLost()
  }

  constructor(connection: Connection, pool: MariadbPoolLike | undefined, queryTimeout?: number) {
    this.raw = connection
    this.#pool = pool
    this.#queryTimeout = queryTimeout
    if (pool !== undefined) {
      connection.on('error', this.#onGone)
      connection.on('end', this.#onGone)
    }
  }

  get lost(): boolean {
    return this.#lost.lost
  }

  onLost(listener: () => void): () => void {
    return this.#lost.add(listener)
  }

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    try {
      const timeout = this.#queryTimeout
      const answer = await this.raw.query(
        timeout === undefined ? sql : { sql, timeout },
        params === undefined ? undefined : [...params],
      )
      if (Array.isArray(answer)) return { rows: answer as Row[], affectedRows: 0 }
      const ok = (answer ?? {}) as OkPacket
      return {
        rows: [],
        affectedRows: Number(ok.affectedRows ?? 0),
        insertId: ok.insertId ?? 0,
      }
    } catch (error) {
      if ((error as { fatal?: unknown }).fatal === true || mysqlDialect.isConnectionLost(error)) {
        this.#lost.markLost()
      }
      throw error
    }
  }

  /**
   * `KILL QUERY` from another session of the pool: the connector keeps its settings to itself, so
   * no session can be opened beside it. A pool with every connection busy delays the cancel.
   */
  async cancel(): Promise<void> {
    const threadId = this.raw.threadId
    if (typeof threadId !== 'number' || this.#pool === undefined) {
      throw new Error('This MariaDB session cannot be cancelled (no thread id or pool).')
    }
    const killer = await this.#pool.getConnection()
    try {
      await killer.query(`KILL QUERY ${Math.trunc(threadId)}`)
    } finally {
      await killer.release()
    }
  }

  guarded(guard: BranchGuard): Connection {
    return guardMariadbConnection(this.raw, guard)
  }

  release(destroy: boolean): void {
    if (this.#pool === undefined) return
    this.raw.removeListener('error', this.#onGone)
    this.raw.removeListener('end', this.#onGone)
    if (destroy || this.#lost.lost) {
      this.raw.destroy()
    } else {
      // The connector resets the session (rolls back) before pooling it again.
      this.raw.release().catch(() => undefined)
    }
  }
}
