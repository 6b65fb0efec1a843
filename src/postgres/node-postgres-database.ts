import {
  type ConnectionTarget,
  connectionIdentity,
  poolObjectIdentity,
  targetFromUrl,
} from '../driver/connection-identity.js'
import type { Database } from '../driver/database.js'
import { validateDatabaseName } from '../driver/database-name.js'
import type {
  BranchGuard,
  DriverConnection,
  QueryResult,
  ServerNotice,
  SessionTransactionStatus,
} from '../driver/driver-connection.js'
import type { HeldSession } from '../driver/held-session.js'
import { LostListeners } from '../driver/lost-listeners.js'
import { StatementQueue } from '../driver/statement-queue.js'
import { loadDriverPackage, type UrlDriver } from '../driver/url-driver.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { type PgCancelTarget, sendPgCancel } from './postgres-cancel.js'
import { postgresDialect } from './postgres-dialect.js'
import { postgresRunnerDialect } from './postgres-runner-dialect.js'

/** A NoticeResponse as node-postgres parses it. */
interface PgNoticeMessage {
  readonly severity?: string
  readonly code?: string
  readonly message?: string
  readonly routine?: string
}

/**
 * node-postgres's protocol connection under a client, as far as counting command tags and hearing
 * notices need.
 */
interface PgProtocolConnection {
  on(event: 'commandComplete', listener: (message: { text?: string }) => void): unknown
  on(event: 'notice', listener: (message: PgNoticeMessage) => void): unknown
  removeListener(event: 'commandComplete', listener: (message: { text?: string }) => void): unknown
  removeListener(event: 'notice', listener: (message: PgNoticeMessage) => void): unknown
}

/** The part of a node-postgres `PoolClient` txkit uses. */
export interface PgClientLike extends PgCancelTarget {
  query(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: unknown[]; command: string; rowCount: number | null }>
  release(destroy?: boolean | Error): void
  /** The status of the last ReadyForQuery ('I', 'T', 'E'); pg ≥ 8.21, null on pg-native. */
  getTransactionStatus?(): string | null
  on(event: 'error' | 'end', listener: (error?: Error) => void): unknown
  removeListener(event: 'error' | 'end', listener: (error?: Error) => void): unknown
}

/** The part of a node-postgres `Pool` txkit uses. */
export interface PgPoolLike<Client extends PgClientLike = PgClientLike> {
  connect(): Promise<Client>
  readonly options?: ConnectionTarget & { connectionString?: string | undefined }
}

/**
 * The client class a pool hands out. node-postgres's `Pool.connect` is overloaded, and TypeScript
 * infers from the last overload (the callback form), whose callback receives the `PoolClient`.
 */
export type PgClientOf<Pool> = Pool extends {
  connect(callback: (error: never, client: infer Client, done: never) => void): void
}
  ? NonNullable<Client> extends PgClientLike
    ? NonNullable<Client>
    : PgClientLike
  : Pool extends PgPoolLike<infer Client>
    ? Client
    : PgClientLike

export interface PgDatabaseOptions {
  /** The database's stable name in the deployment (see {@link Database.name}). */
  readonly name: string
}

// pg reports a socket that went away with these messages and no SQLSTATE.
const CLIENT_SIDE_LOSS = /Connection terminated|not queryable|Connection ended/

class PgConnection<Client extends PgClientLike> implements DriverConnection<Client> {
  readonly raw: Client
  readonly #lost = new LostListeners()
  readonly #onGone = (): void => {
    this.#lost.markLost()
  }

  /** False for a client the caller lent (the runner's target): it is never released here. */
  readonly #owned: boolean
  /** txkit's statements and the application's, one at a time (pg 8.23 deprecates its queue). */
  readonly #queue = new StatementQueue()
  /** Transaction-control command tags answered since the first ask; undefined until then. */
  #tags: number | undefined
  readonly #onCommand = (message: { text?: string }): void => {
    if (TRANSACTION_TAG.test(message.text ?? '')) this.#tags = (this.#tags ?? 0) + 1
  }

  constructor(client: Client, owned = true) {
    this.raw = client
    this.#owned = owned
    // A checked-out pg client with no 'error' listener crashes the process when its backend dies.
    // A lent client is its owner's to watch.
    if (owned) {
      client.on('error', this.#onGone)
      client.on('end', this.#onGone)
    }
  }

  /**
   * Counts from the first call on (a branch asks right after its BEGIN; locks and the runner never
   * ask, and pay nothing). Every statement's completion passes the protocol connection, whichever
   * path sent it.
   */
  transactionTags(): number | undefined {
    if (this.#tags === undefined && this.#owned) {
      const protocol = protocolOf(this.raw)
      if (protocol === undefined) return undefined
      protocol.on('commandComplete', this.#onCommand)
      this.#tags = 0
    }
    return this.#tags
  }

  async query<Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<Row>> {
    try {
      const values = params === undefined ? undefined : [...params]
      const answer = await (this.#owned
        ? this.#queue.run(() => this.raw.query(sql, values))
        : this.raw.query(sql, values))
      // Several statements in one simple-protocol message answer one result each: keep the last.
      const result = Array.isArray(answer) ? (answer.at(-1) as typeof answer) : answer
      return {
        rows: result.rows as Row[],
        affectedRows: result.rowCount ?? 0,
        command: result.command,
      }
    } catch (error) {
      // A session ended on the server (terminated, crashed) whose news reaches the client as the
      // answer to a statement rather than as an 'error' event: a busy holder, a stall.
      if (isClientSideLoss(error) || postgresDialect.isConnectionLost(error)) this.#lost.markLost()
      throw error
    }
  }

  get lost(): boolean {
    return this.#lost.lost
  }

  onLost(listener: () => void): () => void {
    return this.#lost.add(listener)
  }

  onNotice(listener: (notice: ServerNotice) => void): () => void {
    const protocol = protocolOf(this.raw)
    if (protocol === undefined) return () => undefined
    const forward = (message: PgNoticeMessage): void =>
      listener({
        message: message.message ?? '',
        ...(message.severity !== undefined && { severity: message.severity }),
        ...(message.code !== undefined && { code: message.code }),
        ...(message.routine !== undefined && { routine: message.routine }),
      })
    protocol.on('notice', forward)
    return () => protocol.removeListener('notice', forward)
  }

  cancel(): Promise<void> {
    return sendPgCancel(this.raw)
  }

  transactionStatus(): SessionTransactionStatus | undefined {
    return TRANSACTION_STATUS[this.raw.getTransactionStatus?.() ?? '']
  }

  guarded(guard: BranchGuard): Client {
    return guardPgClient(this.raw, guard, this.#queue)
  }

  release(destroy: boolean): void {
    if (!this.#owned) return
    this.raw.removeListener('error', this.#onGone)
    this.raw.removeListener('end', this.#onGone)
    if (this.#tags !== undefined) {
      protocolOf(this.raw)?.removeListener('commandComplete', this.#onCommand)
    }
    this.raw.release(destroy || this.#lost.lost)
  }
}

/**
 * A node-postgres client you hold (and keep: txkit never releases it), for `runner.run` to work on
 * that very client: in savepoints while it is in a transaction (ReadyForQuery says so), in
 * transactions of the runner's own otherwise. The operation receives the client.
 *
 * @example
 * ```ts
 * const client = await pool.connect()
 * await client.query('BEGIN')
 * await runner.run(pgSession(client), (c) => c.query('UPDATE stock SET n = n - 1 WHERE id = 1'))
 * await client.query('COMMIT')
 * ```
 */
export function pgSession<Client extends PgClientLike>(client: Client): HeldSession<Client> {
  const connection = new PgConnection(client, false)
  return {
    kind: 'held-session',
    connection,
    // A client whose driver does not report the status is taken to be in the caller's transaction.
    inTransaction: () => connection.transactionStatus() !== 'idle',
    runnerDialect: async () => postgresRunnerDialect,
  }
}

/** Command tags of statements that begin, end or hand over a transaction (ROLLBACK TO too). */
const TRANSACTION_TAG = /^(COMMIT|ROLLBACK|BEGIN|START TRANSACTION|PREPARE TRANSACTION)\b/

/** node-postgres's protocol connection of a client (not pg-native's), if it has one. */
function protocolOf(client: PgClientLike): PgProtocolConnection | undefined {
  const protocol = (client as { connection?: Partial<PgProtocolConnection> }).connection
  return typeof protocol?.on === 'function' && typeof protocol.removeListener === 'function'
    ? (protocol as PgProtocolConnection)
    : undefined
}

const TRANSACTION_STATUS: Readonly<Record<string, SessionTransactionStatus>> = {
  I: 'idle',
  T: 'open',
  E: 'failed',
}

/** Calls that end a checked-out client's part in the transaction. */
const REFUSED_CALLS = new Set(['release', 'end'])

/**
 * The client as a branch hands it out: a Proxy (so `instanceof pg.Client` and the type still hold)
 * whose `query` checks the statement's text, whether given as a string, a config object or a
 * submittable (pg-cursor, pg-query-stream), and whose `release()` and `end()` are refused.
 * Functions are bound to the real client, so pg's own calls never pass the guard twice. Queries
 * wait in `queue` behind txkit's own statements and each other (a submittable, which answers
 * over time, is sent at once, as before).
 */
function guardPgClient<Client extends PgClientLike>(
  client: Client,
  guard: BranchGuard,
  queue: StatementQueue,
): Client {
  const bound = new Map<PropertyKey, unknown>()
  const query = (first: unknown, ...rest: unknown[]): unknown => {
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text
    try {
      if (typeof text === 'string') guard.statement(text)
    } catch (error) {
      const callback = rest.at(-1) ?? (first as { callback?: unknown } | null)?.callback
      if (typeof callback === 'function') {
        process.nextTick(() => callback(error))
        return undefined
      }
      if (typeof (first as { submit?: unknown } | null)?.submit === 'function') throw error
      return Promise.reject(error)
    }
    return queued(client, queue, first, rest)
  }
  return new Proxy(client, {
    get(target, property) {
      if (property === 'query') return query
      if (typeof property === 'string' && REFUSED_CALLS.has(property)) {
        return () => guard.refuse(`${property}()`)
      }
      const value = Reflect.get(target, property, target)
      if (typeof value !== 'function') return value
      let function_ = bound.get(property)
      if (function_ === undefined) {
        function_ = value.bind(target)
        bound.set(property, function_)
      }
      return function_
    },
  })
}

/** `client.query(first, ...rest)` through `queue`, in whichever of pg's call forms it was made. */
function queued(
  client: PgClientLike,
  queue: StatementQueue,
  first: unknown,
  rest: unknown[],
): unknown {
  const query = client.query as (...args: unknown[]) => unknown
  const config = first as { submit?: unknown; callback?: unknown } | null
  if (typeof config?.submit === 'function') return query.call(client, first, ...rest)
  const last = rest.at(-1)
  if (typeof last === 'function') {
    const send = (callback: Callback) => query.call(client, first, ...rest.slice(0, -1), callback)
    return inTurn(queue, last as Callback, send)
  }
  if (typeof config?.callback === 'function') {
    const send = (callback: Callback) => query.call(client, { ...config, callback })
    return inTurn(queue, config.callback as Callback, send)
  }
  return queue.run(() => query.call(client, first, ...rest) as Promise<unknown>)
}

type Callback = (...answer: unknown[]) => void

/** A callback-style query in `queue`: its turn ends when pg calls back. */
function inTurn(queue: StatementQueue, callback: Callback, send: (callback: Callback) => unknown) {
  void queue.run(
    () =>
      new Promise<void>((resolve) => {
        try {
          send((...answer: unknown[]) => {
            resolve()
            callback(...answer)
          })
        } catch (error) {
          resolve()
          process.nextTick(() => callback(error))
        }
      }),
  )
  return undefined
}

/**
 * A client of `pool` as txkit's connection, watched for loss from the moment pg-pool hands it out.
 * pg-pool stops listening for a client's errors when it hands the client out, and resolves the
 * promise of `connect()` only a microtask later: an error that arrives in the same read as the
 * new client's ReadyForQuery (a server dying as the client connects: "unexpected postmaster
 * exit") is emitted in between, to no listener, and ends the process. Its callback form is called
 * in the same tick, before the rest of that read is parsed.
 */
function checkOut(pool: PgPoolLike): Promise<PgConnection<PgClientLike>> {
  const connect = pool.connect as (
    callback?: PgConnectCallback,
  ) => Promise<PgClientLike> | undefined
  if (connect.length === 0) {
    // A pool-like object without the callback form.
    return (connect.call(pool) as Promise<PgClientLike>).then((client) => new PgConnection(client))
  }
  return new Promise((resolve, reject) => {
    connect.call(pool, (error, client) => {
      if (error !== undefined && error !== null) reject(error)
      else resolve(new PgConnection(client as PgClientLike))
    })
  })
}

type PgConnectCallback = (error: Error | null | undefined, client?: PgClientLike) => void

function isClientSideLoss(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error as { code?: unknown }).code === undefined &&
    CLIENT_SIDE_LOSS.test(error.message)
  )
}

function poolIdentity(pool: PgPoolLike): string {
  const options = pool.options
  if (options === undefined) return poolObjectIdentity('postgres', pool)
  const fromUrl = options.connectionString ? targetFromUrl(options.connectionString) : {}
  return connectionIdentity('postgres', {
    host: options.host ?? fromUrl.host ?? process.env.PGHOST,
    port: options.port ?? fromUrl.port ?? process.env.PGPORT ?? 5432,
    database: options.database ?? fromUrl.database ?? process.env.PGDATABASE,
    user: options.user ?? fromUrl.user ?? process.env.PGUSER,
  })
}

const DATABASE_OPTIONS: ReadonlySet<string> = new Set(['name'])

/**
 * Wraps a node-postgres `Pool` as a txkit database. Each transaction branch checks out one client
 * for its whole life; the pool needs at least as many clients as concurrent transactions.
 * PostgreSQL must run with `max_prepared_transactions` > 0.
 *
 * @example
 * ```ts
 * import pg from 'pg'
 * import { pgDatabase } from 'txkit/node-postgres'
 *
 * const orders = pgDatabase(new pg.Pool({ connectionString: process.env.ORDERS_URL }), { name: 'orders' })
 * ```
 */
export function pgDatabase<Pool extends PgPoolLike>(
  pool: Pool,
  options: PgDatabaseOptions,
): Database<PgClientOf<Pool>> {
  if (pool === null || typeof pool !== 'object' || typeof pool.connect !== 'function') {
    throw new ConfigurationError(
      'pgDatabase() needs a node-postgres Pool (new pg.Pool(...)): the value given has no connect() method.',
    )
  }
  checkOptionNames(options ?? {}, DATABASE_OPTIONS, 'pgDatabase()')
  const name = validateDatabaseName(options?.name)
  return {
    name,
    identity: poolIdentity(pool),
    dialect: postgresDialect,
    acquire() {
      return checkOut(pool) as Promise<PgConnection<PgClientOf<Pool>>>
    },
  }
}

/**
 * Opens `postgres://` and `postgresql://` URLs with node-postgres, for the manager's `tx.connect`
 * (`urlDrivers` option) and the CLI. Statement timeouts are set on the server and, a second later,
 * on the client.
 *
 * @example
 * ```ts
 * import { createTransactionManager } from 'txkit'
 * import { nodePostgresUrls } from 'txkit/node-postgres'
 *
 * const manager = createTransactionManager({ decisionLog: orders, urlDrivers: [nodePostgresUrls] })
 * ```
 */
export const nodePostgresUrls: UrlDriver = {
  packageName: 'pg',
  schemes: ['postgres', 'postgresql'],
  async open(name, url, options) {
    const pg = await loadDriverPackage<typeof import('pg')>('pg', 'postgres')
    const statement = options.statementTimeoutMs
    const pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 8,
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
  },
}
