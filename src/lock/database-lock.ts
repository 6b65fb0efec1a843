import { EventEmitter } from 'node:events'
import type { LockGrant, LockRequest, LockWait } from '../dialect/lock-dialect.js'
import type { DriverConnection, QueryResult } from '../driver/driver-connection.js'
import type { LockLostError } from '../errors/lock-lost-error.js'
import { LockStateError } from '../errors/lock-state-error.js'
import { errorMessage } from '../util/error-message.js'
import { heldInContext } from './held-locks.js'
import { type GrantRequest, takeOnSession, traceAcquire } from './lock-grant.js'
import { LockHeartbeat } from './lock-heartbeat.js'
import { type LockIdentifier, type LockKey, lockIdentifier } from './lock-key.js'
import {
  ACQUIRE_OPTIONS,
  type AcquireOptions,
  checkLockOptionNames,
  type LockOptions,
  type ResolvedLockOptions,
  resolveWait,
} from './lock-options.js'
import {
  type LockEvents,
  type LockStatus,
  lockLost,
  lockTimeout,
  NOT_HELD,
  notHeld,
  RELEASED,
  RELEASED_CONTROLLER,
  refuseTake,
  waitAborted,
} from './lock-refusals.js'
import type { LockSource } from './lock-source.js'

export type { LockStatus }

/**
 * A lock on a database, held through a session of its own: `acquire` checks a session out of the
 * source and `release` gives it back, so a lock can never be released through a session that did
 * not take it. Create one with {@link createLock}; prefer {@link withLock} where a callback fits.
 *
 * Re-entrancy is refused on every database: acquiring a lock this object (or an enclosing
 * `withLock`) already holds throws `LockReentryError`.
 */
export class DatabaseLock extends EventEmitter<LockEvents> {
  /** The key as given. */
  readonly key: LockKey
  /** What the database locks: an integer (PostgreSQL, Oracle) or a name (MySQL, SQL Server). */
  readonly identifier: LockIdentifier
  readonly mode: ResolvedLockOptions['mode']
  readonly #source: LockSource
  readonly #request: LockRequest
  readonly #grantRequest: GrantRequest
  #status: LockStatus = 'unlocked'
  #connection: DriverConnection | undefined
  #stopWatching: (() => void) | undefined
  #holding: AbortController | undefined
  #lostError: LockLostError | undefined
  readonly #heartbeatMs: number | undefined
  #heartbeat: LockHeartbeat | undefined
  /** Statements the holder runs through `query`: they prove the session alive, no ping meanwhile. */
  #queries = 0
  #fencingToken: bigint | undefined

  /** @internal Use {@link createLock}, {@link withLock} or `tx.lock`. */
  constructor(
    source: LockSource,
    key: LockKey,
    options: ResolvedLockOptions,
    keyOptions: LockOptions,
    joinsTransaction = false,
  ) {
    super()
    this.#source = source
    this.key = key
    this.identifier = lockIdentifier(key, source.lockDialect.keySpace, keyOptions)
    this.mode = options.mode
    this.#request = { id: this.identifier, mode: options.mode, scope: options.scope }
    this.#grantRequest = {
      source,
      request: this.#request,
      fencing: options.fencing,
      joinsTransaction,
      aborted: (signal) => waitAborted(this.key, signal),
      lost: (why) => lockLost(this.key, why),
    }
    this.#heartbeatMs = options.heartbeat
  }

  /** @internal The name nested `withLock` calls are checked against. */
  get contextName(): string {
    return `${this.#source.identity}\u0000${this.identifier}`
  }

  get status(): LockStatus {
    return this.#status
  }

  /** True while the lock is held (false once released or lost). */
  get locked(): boolean {
    return this.#status === 'locked'
  }

  /**
   * Aborted when the lock stops being held: lost (reason: `LockLostError`) or released. Pass it to
   * the work the lock protects, so that the work stops when the protection does.
   */
  get signal(): AbortSignal {
    // Made on first use: most holders never ask, and a controller per acquisition costs.
    if (this.#holding === undefined) {
      this.#holding = new AbortController()
      if (this.#status !== 'locked') this.#holding.abort(this.#lostError ?? NOT_HELD)
    }
    return this.#holding.signal
  }

  /** The fencing token of the current holding, when the lock was created with `fencing`. */
  get fencingToken(): bigint | undefined {
    return this.#fencingToken
  }

  /**
   * Waits for the lock on the server (no polling) and holds it. Resolves to the lock itself.
   *
   * @throws LockTimeoutError not granted within `timeout` ms.
   * @throws LockWaitAbortedError `signal` fired; the wait was cancelled on the server.
   * @throws LockReentryError this holder has it already.
   * @example
   * ```ts
   * const lock = createLock(pool, 'nightly-report')
   * await lock.acquire({ timeout: 5_000 })
   * try { await buildReport() } finally { await lock.release() }
   * ```
   */
  async acquire(options: AcquireOptions = {}): Promise<this> {
    checkLockOptionNames(options, ACQUIRE_OPTIONS, 'acquire()')
    await this.take(resolveWait(options.timeout), options.signal)
    return this
  }

  /**
   * Takes the lock if it is free, without waiting; true when taken.
   *
   * @example
   * ```ts
   * await using lock = createLock(pool, `export:${id}`)
   * if (!(await lock.tryAcquire())) return reply(409, 'export already running')
   * await runExport(id)
   * ```
   */
  async tryAcquire(): Promise<boolean> {
    return this.#take(0, undefined)
  }

  /**
   * @internal Takes the lock, waiting as `wait` says, in its scope (a transaction-scoped lock's
   * transaction is ended by the caller).
   * @throws LockTimeoutError not granted in time.
   */
  async take(wait: LockWait, signal: AbortSignal | undefined): Promise<void> {
    if (!(await this.#take(wait, signal))) throw lockTimeout(this.key, wait)
  }

  /** Takes the lock (see {@link take}), in a `txkit.lock.acquire` span when tracing is on. */
  #take(wait: LockWait, signal: AbortSignal | undefined): Promise<boolean> {
    return traceAcquire(this.#request, () => this.#takeUntraced(wait, signal))
  }

  async #takeUntraced(wait: LockWait, signal: AbortSignal | undefined): Promise<boolean> {
    const refusal = refuseTake(this.key, this.#status, heldInContext(this.contextName))
    if (refusal !== undefined) throw refusal
    if (signal?.aborted) throw waitAborted(this.key, signal)
    this.#status = 'acquiring'
    let taken: Awaited<ReturnType<typeof takeOnSession>>
    try {
      taken = await takeOnSession(this.#grantRequest, wait, signal)
    } catch (error) {
      this.#status = 'unlocked'
      throw error
    }
    if (taken === undefined) {
      this.#status = 'unlocked'
      return false
    }
    this.#hold(taken.connection, taken.grant)
    return true
  }

  #hold(connection: DriverConnection, grant: LockGrant): void {
    this.#connection = connection
    this.#fencingToken = grant.fencingToken
    this.#holding = undefined
    this.#lostError = undefined
    this.#status = 'locked'
    this.#stopWatching = connection.onLost?.(() => this.#lose())
    const every = this.#heartbeatMs
    if (every !== undefined) {
      this.#heartbeat = new LockHeartbeat(
        connection,
        every,
        this.#source.lockDialect.ping,
        () => this.#status !== 'locked' || this.#queries > 0,
        (error) => {
          if (this.#status !== 'locked' || this.#connection !== connection) return
          this.#lose(`its session did not answer a heartbeat (${errorMessage(error)})`)
          this.#stopWatching?.()
          this.#stopWatching = undefined
          this.#connection = undefined
          connection.release(true)
        },
      )
    }
  }

  #stopHeartbeat(): void {
    this.#heartbeat?.stop()
    this.#heartbeat = undefined
  }

  #lose(why?: string): void {
    if (this.#status !== 'locked' && this.#status !== 'releasing') return
    this.#status = 'lost'
    const error = lockLost(
      this.key,
      why ?? `its ${this.#source.lockDialect.displayName} session ended, so the server released it`,
    )
    this.#lostError = error
    this.#holding?.abort(error)
    this.emit('lost', error)
  }

  /**
   * Runs a statement on the lock's own session (in its transaction, for `scope: 'transaction'`).
   * Placeholders are those of the driver: $1, $2 … on PostgreSQL, ? on MySQL.
   *
   * @example
   * ```ts
   * await withLock(pool, 'counter', (lock) => lock.query('update counters set n = n + 1'))
   * ```
   */
  async query<Row = Record<string, unknown>>(
    sql: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<Row>> {
    const connection = this.#connection
    if (this.#status !== 'locked' || connection === undefined)
      throw notHeld(this.key, 'query through', this.#status)
    this.#queries++
    try {
      return await connection.query<Row>(sql, params)
    } catch (error) {
      // The statement was the first to hear that the session ended: the lock went with it.
      if (connection.lost || (this.#status as LockStatus) === 'lost') {
        throw this.#lostError ?? lockLost(this.key, 'its session ended', error)
      }
      throw error
    } finally {
      this.#queries--
    }
  }

  /**
   * Gives the lock back and its session to the pool.
   *
   * @throws LockLostError the session ended while the lock was held: it was not held until now.
   * @throws LockStateError the lock is not held.
   * @example
   * ```ts
   * const lock = await createLock(pool, 'rebuild-index').acquire()
   * try { await rebuildIndex() } finally { await lock.release() }
   * ```
   */
  async release(): Promise<void> {
    await this.#end(async (connection) => {
      if (this.#request.scope === 'transaction') {
        throw new LockStateError(
          'A transaction-scoped lock ends with its transaction (withLock or tx.lock), not with release().',
        )
      }
      return this.#source.lockDialect.release(connection, this.#request)
    })
  }

  /** @internal Ends a transaction-scoped lock's transaction: COMMIT, or ROLLBACK when `commit` is false. */
  async endTransaction(commit: boolean): Promise<void> {
    await this.#end(async (connection) => {
      const statements = this.#source.lockDialect.transaction
      await connection.query(commit ? statements.commit : statements.rollback)
      if (this.#source.lockDialect.transactionScope === 'native') return true
      return this.#source.lockDialect.release(connection, this.#request)
    })
  }

  /** @internal The transaction this lock joined has ended, and the lock with it. */
  transactionEnded(): void {
    if (this.#status === 'locked') this.#forget(undefined, false)
  }

  async #end(finish: (connection: DriverConnection) => Promise<boolean>): Promise<void> {
    const connection = this.#connection
    if (this.#status === 'lost') {
      this.#forget(connection, true)
      this.#status = 'unlocked'
      throw this.#lostError ?? lockLost(this.key, 'its session ended')
    }
    if (this.#status !== 'locked' || connection === undefined)
      throw notHeld(this.key, 'release', this.#status)
    this.#status = 'releasing'
    let held: boolean
    try {
      held = await finish(connection)
    } catch (error) {
      if (error instanceof LockStateError) {
        this.#status = 'locked'
        throw error
      }
      // Closing the session is a release too: the server drops its locks with it.
      const lost = connection.lost || (this.#status as LockStatus) === 'lost'
      this.#forget(connection, true)
      if (lost) throw lockLost(this.key, 'its session ended before the release', error)
      throw error
    }
    if (!held) {
      this.#forget(connection, true)
      throw lockLost(this.key, 'the server says this session did not hold it')
    }
    this.#forget(connection, false)
  }

  #forget(connection: DriverConnection | undefined, destroy: boolean): void {
    this.#stopHeartbeat()
    this.#stopWatching?.()
    this.#stopWatching = undefined
    this.#connection = undefined
    this.#fencingToken = undefined
    if (this.#holding?.signal.aborted === false) this.#holding.abort(RELEASED)
    else if (this.#holding === undefined && this.#lostError === undefined) {
      this.#holding = RELEASED_CONTROLLER
    }
    this.#status = 'unlocked'
    connection?.release(destroy)
  }

  /** Releases the lock if held (for `await using`); a lost lock throws `LockLostError`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === 'locked' || this.#status === 'lost') await this.release()
  }
}
