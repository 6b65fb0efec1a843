import type {
  BranchGuard,
  DriverConnection,
  QueryResult,
} from '../../../driver/driver-connection.js'
import { LostListeners } from '../../../driver/lost-listeners.js'
import { postgresDialect } from '../../postgres-dialect.js'
import { guardReserved, sessionEndedError } from './postgres-js-guard.js'
import {
  isPostgresJs4Query,
  type PostgresJs3Connection,
  type PostgresJs4Connection,
  type PostgresJsListen,
  type UnderlyingConnection,
  underlying3,
  underlying4,
} from './postgres-js-underlying.js'

export type { PostgresJsListen }

/** A postgres.js query: a promise of rows carrying the command tag, which can be cancelled. */
export interface PostgresJsQuery extends PromiseLike<PostgresJsRows> {
  cancel(): unknown
}

/** The rows postgres.js answers with: an array carrying the command tag and the row count. */
type PostgresJsRows = readonly unknown[] & {
  readonly command?: string | null
  readonly count?: number | null
}

/** The part of a postgres.js reserved connection (`await sql.reserve()`) txkit uses. */
export interface PostgresJsReservedLike {
  /** `options` takes `onexecute`, which postgres.js's typings leave out. */
  unsafe(query: string, parameters?: unknown[], options?: object): PostgresJsQuery
  release(): void
}

/**
 * Codes postgres.js gives a connection that went away (no SQLSTATE then), and Node's socket codes.
 */
const LOST_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
])

/**
 * One reserved postgres.js connection. postgres.js pipelines: a statement is written to the socket
 * as soon as it is issued, whether or not earlier ones have answered. `deferred` statements (a
 * branch's BEGIN) are issued without waiting, so they travel with the next statement; their answer
 * is checked before that statement's answer is returned.
 */
export class PostgresJsConnection<Reserved extends PostgresJsReservedLike>
  implements DriverConnection<Reserved>
{
  readonly raw: Reserved
  readonly #lost = new LostListeners()
  /** The pool's connection under the reservation, known from the first statement on. */
  #underlying: UnderlyingConnection | undefined
  readonly #connectionClosed = (): void => {
    this.#lost.markLost()
    this.#closed?.()
  }
  /** postgres.js 3 calls this with its connection before writing each statement. */
  readonly #onexecute = (connection: PostgresJs3Connection): boolean => {
    if (this.#underlying === undefined && !this.#lost.lost) {
      this.#underlying = underlying3(connection, this.#connectionClosed)
    }
    // postgres.js keeps pipelining only while this answers true.
    return true
  }

  /** Statements issued and not yet answered, whose failure the next statement reports. */
  #deferred: Promise<PostgresJsRows> | undefined
  /** The statement running now, for `cancel()`. */
  #running: PostgresJsQuery | undefined
  /** The backend pid `watch` asked for. */
  #session: Promise<number | undefined> | undefined
  readonly #owned: boolean

  /** Told when this connection closes, so that reservations stranded by it ask again. */
  readonly #closed: (() => void) | undefined

  /**
   * Listens on the postgres.js instance's own listening connection (a reserved one hears no
   * notifications), which postgres.js reconnects and listens on again by itself.
   */
  readonly listen?: NonNullable<DriverConnection['listen']>

  constructor(reserved: Reserved, owned = true, closed?: () => void, listen?: PostgresJsListen) {
    this.raw = reserved
    this.#owned = owned
    this.#closed = closed
    if (listen !== undefined) {
      this.listen = async (channel, onNotification) => {
        const listening = await listen(channel, onNotification)
        return async () => {
          await listening.unlisten()
        }
      }
    }
  }

  get lost(): boolean {
    return this.#lost.lost
  }

  onLost(listener: () => void): () => void {
    return this.#lost.add(listener)
  }

  /**
   * postgres.js hears of a closed socket in Node's close phase, after the answers read with it:
   * a few turns of the event loop let a close that arrived with the last answer be seen.
   */
  settle(): Promise<void> {
    if (this.#lost.lost) return Promise.resolve()
    return new Promise((resolve) => {
      let turns = 0
      const turn = (): void => {
        if (this.#lost.lost || ++turns > SETTLE_TURNS) resolve()
        else setImmediate(turn)
      }
      setImmediate(turn)
    })
  }

  /**
   * Issues `sql` now and answers nothing: its answer is checked by the next `query`. Lets a
   * branch's BEGIN travel in the same write as the first statement of the branch's work.
   */
  defer(sql: string, explain?: (error: unknown) => unknown): void {
    const answered = this.#issue(sql, undefined)
    const issued =
      explain === undefined
        ? answered
        : answered.catch((error: unknown) => Promise.reject(explain(error)))
    const previous = this.#deferred
    const chained = previous === undefined ? issued : previous.then(() => issued)
    // Observed here so that an unchecked failure is never an unhandled rejection; it is rethrown
    // by the next query (or the session is released destroyed). `issued` is observed on its own:
    // after a failed `previous` nothing else would.
    issued.then(undefined, () => undefined)
    chained.then(undefined, () => undefined)
    this.#deferred = chained
  }

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    const issued = this.#issue(sql, params)
    const deferred = this.#deferred
    this.#deferred = undefined
    try {
      if (deferred !== undefined) {
        try {
          await deferred
        } catch (error) {
          // The later statement ran after a failed one: its own answer no longer matters.
          issued.then(undefined, () => undefined)
          throw error
        }
      }
      const rows = lastResult(await issued)
      return {
        rows: [...rows] as Row[],
        affectedRows: rows.count ?? 0,
        ...(typeof rows.command === 'string' && { command: rows.command }),
      }
    } catch (error) {
      if (isLoss(error)) this.#lost.markLost()
      throw error
    }
  }

  #issue(sql: string, params: readonly unknown[] | undefined): Promise<PostgresJsRows> {
    if (this.#lost.lost) return Promise.reject(sessionEndedError())
    // With parameters, postgres.js first asks the server for their types (a round trip) unless
    // the statement is prepared on this connection already: prepare it, as postgres.js does for
    // its tagged templates (an instance made with `prepare: false`, for PgBouncer, still wins).
    const values = params === undefined ? [] : [...params]
    const query = this.raw.unsafe(sql, values, {
      onexecute: this.#onexecute,
      ...(values.length > 0 && { prepare: true }),
    })
    const version4 = isPostgresJs4Query(query)
    if (!version4 && this.#underlying === undefined && values.length > 0) {
      // postgres.js 3 hands out its connection (onexecute) only for a statement it can pipeline,
      // which a statement whose parameters it must describe first is not: a simple SELECT goes
      // first, in the same write, so that the session's close is heard from the start.
      this.raw.unsafe('SELECT 1', [], { onexecute: this.#onexecute }).then(
        () => undefined,
        () => undefined,
      )
    }
    this.#running = query
    const answered = Promise.resolve(query)
    const settled = (): void => {
      this.#clearRunning(query)
      if (version4 && this.#underlying === undefined) this.#adopt4(query.connection)
    }
    answered.then(settled, settled)
    return answered
  }

  /**
   * postgres.js 4 set the connection a statement ran on on the query: the reservation's, whose
   * close is reported from then on (a statement in flight when it closes fails on its own).
   */
  #adopt4(connection: unknown): void {
    if (typeof connection !== 'object' || connection === null || this.#lost.lost) return
    this.#underlying = underlying4(connection as PostgresJs4Connection, this.#connectionClosed)
  }

  #clearRunning(query: PostgresJsQuery): void {
    if (this.#running === query) this.#running = undefined
  }

  async cancel(): Promise<void> {
    await this.#running?.cancel()
  }

  /**
   * postgres.js hands the adapter its pool connection, and with it the connection's close, only
   * with a statement: a reservation held idle (the parallel protocol's staging connection) would
   * never hear its session die, then write to the closed socket or into whatever session the pool
   * opened on that connection for someone else. One statement now, its answer awaited by nobody:
   * from then on the close is heard in the very call where postgres.js drops the socket and frees
   * the connection, so `#issue` never sends after it. Its answer names the backend.
   */
  watch(): void {
    if (this.#session !== undefined || this.#underlying !== undefined || this.#lost.lost) return
    this.#session = this.#issue('SELECT pg_backend_pid() AS pid', undefined).then(
      (rows) => {
        const pid = (rows[0] as { pid?: unknown } | undefined)?.pid
        return typeof pid === 'number' ? pid : undefined
      },
      () => undefined,
    )
  }

  sessionId(): Promise<number | undefined> {
    return this.#session ?? Promise.resolve(undefined)
  }

  guarded(guard: BranchGuard): Reserved {
    return guardReserved(this.raw, guard, () => this.#lost.lost)
  }

  /**
   * postgres.js has no call that closes one reserved connection (4 closes one given back inside a
   * transaction, but only once its statements have answered). A session whose state is unknown but
   * which is idle (no statement in flight) is reset in place (ROLLBACK, then session locks,
   * settings, temporary tables and listeners dropped) and given back; one still busy is closed
   * underneath (3.4: its connection terminated; 4: its socket destroyed). Closing is the last
   * resort: in 3.4 a reserve queued while one of the pool's connections closes can be stranded
   * (porsager/postgres#1195), and with a pool of one nothing would be left to serve it.
   */
  release(destroy: boolean): void {
    if (!this.#owned) return
    const underlying = this.#underlying
    if (this.#lost.lost) return // postgres.js took the closed connection back itself
    if (!destroy && this.#deferred === undefined) {
      underlying?.forget()
      this.raw.release()
      return
    }
    if (underlying === undefined) {
      // Nothing ever ran on it: nothing to reset.
      this.raw.release()
      return
    }
    if (this.#running !== undefined || this.#deferred !== undefined) {
      this.#terminate(underlying)
      return
    }
    void this.#resetThenRelease(underlying)
  }

  async #resetThenRelease(underlying: UnderlyingConnection): Promise<void> {
    try {
      await withTimeout(this.#issue('ROLLBACK', undefined), RESET_TIMEOUT_MS)
      await withTimeout(this.#issue(RESET_SESSION, undefined), RESET_TIMEOUT_MS)
    } catch {
      if (!this.#lost.lost) this.#terminate(underlying)
      return
    }
    if (this.#lost.lost) return
    underlying.forget()
    this.raw.release()
  }

  #terminate(underlying: UnderlyingConnection): void {
    underlying.close()
    this.#closed?.()
  }
}

/** What a reset session must not keep (DISCARD ALL would also drop postgres.js's statements). */
const RESET_SESSION = 'SELECT pg_advisory_unlock_all(); RESET ALL; DISCARD TEMP; UNLISTEN *'

/** How long a reset may take before the session is closed instead. */
const RESET_TIMEOUT_MS = 5000

function withTimeout<Value>(work: PromiseLike<Value>, ms: number): Promise<Value> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
    timer.unref()
    Promise.resolve(work).then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error)
      },
    )
  })
}

/**
 * Several statements in one simple-protocol message: postgres.js 4 answers one result per
 * statement, 3.4 one per statement that returned rows (a statement returning none leaves its tag
 * on the result before it). Like node-postgres's answer, the last one is kept: its rows and tag.
 */
function lastResult(answer: PostgresJsRows): PostgresJsRows {
  if (answer.command != null) return answer
  const last = answer.at(-1)
  return Array.isArray(last) && 'command' in last ? (last as PostgresJsRows) : answer
}

function isLoss(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return (
    (typeof code === 'string' && LOST_CODES.has(code)) || postgresDialect.isConnectionLost(error)
  )
}

/**
 * Event-loop turns `settle` waits: a socket's close reaches postgres.js a few turns after the data
 * read with it (end, then the write side's finish, then the handle's close).
 */
const SETTLE_TURNS = 6
