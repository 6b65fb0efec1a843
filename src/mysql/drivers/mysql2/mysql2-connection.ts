import type {
  BranchGuard,
  DriverConnection,
  QueryResult,
} from '../../../driver/driver-connection.js'
import { LostListeners } from '../../../driver/lost-listeners.js'
import { guardMysqlConnection } from './mysql2-guard.js'

/** The part of a mysql2/promise `PoolConnection` txkit uses. */
export interface MysqlConnectionLike {
  query(
    sql: string | { sql: string; timeout?: number },
    values?: unknown,
  ): Promise<[unknown, unknown]>
  release(): void
  destroy(): void
  /** The server's id of this session, for `KILL QUERY`. */
  readonly threadId?: number | null
  /** The callback-style connection under the promise wrapper; emits `error` and `end`. */
  readonly connection?: {
    on(event: 'error' | 'end', listener: (error?: Error) => void): unknown
    removeListener(event: 'error' | 'end', listener: (error?: Error) => void): unknown
  }
}

/** The part of a mysql2/promise `Pool` txkit uses. */
export interface MysqlPoolLike<Connection extends MysqlConnectionLike = MysqlConnectionLike> {
  getConnection(): Promise<Connection>
}

/** One checked-out (or lent) mysql2 promise connection as txkit's connection. */
export class MysqlConnection<Connection extends MysqlConnectionLike>
  implements DriverConnection<Connection>
{
  readonly raw: Connection
  /** Undefined for a connection the caller lent (the runner's target): never released here. */
  readonly #pool: MysqlPoolLike | undefined
  readonly #lost = new LostListeners()
  readonly #onGone = (): void => {
    this.#lost.markLost()
  }

  /** mysql2's per-query timeout (ms), when the database was given one. */
  readonly #queryTimeout: number | undefined

  constructor(connection: Connection, pool: MysqlPoolLike | undefined, queryTimeout?: number) {
    this.raw = connection
    this.#pool = pool
    this.#queryTimeout = queryTimeout
    // mysql2 emits 'error' for a fatal error with no command in flight; unheard, it would crash.
    // A lent connection is its owner's to watch.
    if (pool !== undefined) {
      connection.connection?.on('error', this.#onGone)
      connection.connection?.on('end', this.#onGone)
    }
  }

  get lost(): boolean {
    return this.#lost.lost
  }

  guarded(guard: BranchGuard): Connection {
    return guardMysqlConnection(this.raw, guard, true)
  }

  onLost(listener: () => void): () => void {
    return this.#lost.add(listener)
  }

  /**
   * MySQL has no out-of-band cancel: another session sends `KILL QUERY`. It is opened beside the
   * pool, with the pool's settings, because every pooled session may be waiting on a lock.
   */
  async cancel(): Promise<void> {
    const threadId = this.raw.threadId
    if (typeof threadId !== 'number') throw new Error('This MySQL session has no thread id.')
    const statement = `KILL QUERY ${Math.trunc(threadId)}`
    const side = sideConnection(this.raw.connection)
    if (side === undefined) {
      if (this.#pool === undefined) throw new Error('No session to send KILL QUERY from.')
      const killer = await this.#pool.getConnection()
      try {
        await killer.query(statement)
      } finally {
        killer.release()
      }
      return
    }
    await new Promise<void>((resolve, reject) => {
      side.once('error', reject)
      side.query(statement, (error) => {
        side.destroy()
        if (error) reject(error)
        else resolve()
      })
    })
  }

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    try {
      const timeout = this.#queryTimeout
      const [result] = await this.raw.query(timeout === undefined ? sql : { sql, timeout }, params)
      if (Array.isArray(result)) {
        return { rows: result as Row[], affectedRows: 0 }
      }
      const header = result as { affectedRows?: number; insertId?: number } | undefined
      return { rows: [], affectedRows: header?.affectedRows ?? 0, insertId: header?.insertId ?? 0 }
    } catch (error) {
      if ((error as { fatal?: unknown }).fatal === true) this.#lost.markLost()
      throw error
    }
  }

  release(destroy: boolean): void {
    if (this.#pool === undefined) return
    this.raw.connection?.removeListener('error', this.#onGone)
    this.raw.connection?.removeListener('end', this.#onGone)
    if (destroy || this.#lost.lost) {
      this.raw.destroy()
    } else {
      this.raw.release()
    }
  }
}

/** The callback connection mysql2 keeps under a promise connection, as far as a cancel needs it. */
interface CallbackConnection {
  readonly config?: unknown
  once(event: 'error', listener: (error: Error) => void): unknown
  query(sql: string, callback: (error: Error | null) => void): unknown
  destroy(): void
}

/**
 * A new session with the settings of `connection`, made with mysql2's own Connection class (the
 * base class of its PoolConnection); undefined when mysql2's shape is not the one expected.
 */
function sideConnection(connection: unknown): CallbackConnection | undefined {
  const config = (connection as { config?: unknown } | undefined)?.config
  const poolConnectionClass = (connection as object | undefined)?.constructor
  if (config === undefined || poolConnectionClass === undefined) return undefined
  const ConnectionClass = Object.getPrototypeOf(poolConnectionClass) as
    | (new (options: {
        config: unknown
      }) => CallbackConnection)
    | undefined
  if (typeof ConnectionClass !== 'function' || ConnectionClass === Function.prototype) {
    return undefined
  }
  try {
    return new ConnectionClass({ config })
  } catch {
    return undefined
  }
}
