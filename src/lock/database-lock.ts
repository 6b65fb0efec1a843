import { EventEmitter } from 'node:events'
import type { LockDialect, LockGrant, LockRequest, LockWait } from '../dialect/lock-dialect.js'
import type { TableName } from '../dialect/table-name.js'
import type { DriverConnection, QueryResult } from '../driver/driver-connection.js'
import { withConnection } from '../driver/with-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { LockLostError } from '../errors/lock-lost-error.js'
import { LockReentryError } from '../errors/lock-reentry-error.js'
import { LockStateError } from '../errors/lock-state-error.js'
import { LockTimeoutError } from '../errors/lock-timeout-error.js'
import { LockWaitAbortedError } from '../errors/lock-wait-aborted-error.js'
import { startSpan } from '../tracing/span.js'
import { errorMessage } from '../util/error-message.js'
import { sleep } from '../util/sleep.js'
import { heldInContext } from './held-locks.js'
import { LockHeartbeat } from './lock-heartbeat.js'
import { describeKey, type LockIdentifier, type LockKey, lockIdentifier } from './lock-key.js'
import {
  ACQUIRE_OPTIONS,
  type AcquireOptions,
  checkLockOptionNames,
  type LockOptions,
  type ResolvedLockOptions,
  resolveWait,
} from './lock-options.js'
import type { LockSource } from './lock-source.js'

/** Where a lock stands. `lost`: its session ended while it was held. */
export type LockStatus = 'unlocked' | 'acquiring' | 'locked' | 'releasing' | 'lost'

interface LockEvents {
  /** The session holding the lock ended: the server released it. */
  lost: [error: LockLostError]
}

// Shared abort reasons: an Error per acquisition would cost its stack trace on the hot path.
const NOT_HELD = new LockStateError('The lock is not held.')
const RELEASED = new LockStateError('The lock was released.')
const SETTLED = new Error('The wait answered.')
const RELEASED_CONTROLLER = new AbortController()
RELEASED_CONTROLLER.abort(RELEASED)
const CANCEL_RETRY_MS = 250

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
  readonly #fencing: ResolvedLockOptions['fencing']
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

  /** Whether the lock joins a transaction someone else opened and ends (the transaction manager). */
  readonly #joinsTransaction: boolean

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
    this.#fencing = options.fencing
    this.#joinsTransaction = joinsTransaction
    this.#heartbeatMs = options.heartbeat
  }

  get #dialect(): LockDialect {
    return this.#source.lockDialect
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
    if (!(await this.#take(wait, signal))) {
      throw new LockTimeoutError(
        `Lock ${describeKey(this.key)} was not granted within ${wait} ms: another session holds it.`,
        describeKey(this.key),
        wait ?? 0,
      )
    }
  }

  /** Takes the lock (see {@link take}), in a `txkit.lock.acquire` span when tracing is on. */
  async #take(wait: LockWait, signal: AbortSignal | undefined): Promise<boolean> {
    const span = startSpan('txkit.lock.acquire', {
      'txkit.lock.id': String(this.identifier),
      'txkit.lock.mode': this.#request.mode,
      'txkit.lock.scope': this.#request.scope,
    })
    if (span === undefined) return this.#takeUntraced(wait, signal)
    try {
      const acquired = await this.#takeUntraced(wait, signal)
      span.set({ 'txkit.lock.acquired': acquired })
      span.end()
      return acquired
    } catch (error) {
      span.end(error)
      throw error
    }
  }

  async #takeUntraced(wait: LockWait, signal: AbortSignal | undefined): Promise<boolean> {
    if (this.#status === 'locked') {
      throw new LockReentryError(
        `Lock ${describeKey(this.key)} is already held by this lock object: txkit never stacks a lock on itself.`,
        describeKey(this.key),
      )
    }
    if (this.#status === 'acquiring' || this.#status === 'releasing') {
      throw new LockStateError(
        `Lock ${describeKey(this.key)} is ${this.#status}; wait for it first.`,
      )
    }
    if (heldInContext(this.contextName)) {
      throw new LockReentryError(
        `Lock ${describeKey(this.key)} is already held by an enclosing withLock: taking it again would wait on itself forever.`,
        describeKey(this.key),
      )
    }
    if (signal?.aborted) throw this.#aborted(signal)
    this.#status = 'acquiring'
    let connection: DriverConnection | undefined
    try {
      connection = await this.#source.acquire()
      if (signal !== undefined && connection.cancel === undefined && wait !== 0) {
        throw new ConfigurationError(
          `This ${this.#dialect.displayName} driver adapter cannot cancel a statement: an AbortSignal cannot stop the wait. Use a timeout.`,
        )
      }
      if (signal?.aborted) throw this.#aborted(signal)
      const inTransaction = this.#request.scope === 'transaction'
      const opensTransaction = inTransaction && !this.#joinsTransaction
      if (opensTransaction && this.#dialect.transaction.begin !== '') {
        await connection.query(this.#dialect.transaction.begin)
      }
      const grant = await this.#grant(connection, wait, signal, inTransaction)
      if (grant.acquired) await connection.settle?.()
      if (grant.acquired && connection.lost) {
        // Granted, then the session ended before the caller could use it: the server has
        // released the lock already. Never resolve with a lock that is lost.
        throw this.#lostBecause('its session ended right after the grant')
      }
      if (!grant.acquired) {
        if (opensTransaction) await connection.query(this.#dialect.transaction.rollback)
        this.#status = 'unlocked'
        connection.release(false)
        return false
      }
      this.#hold(connection, grant)
      return true
    } catch (error) {
      this.#status = 'unlocked'
      connection?.release(true)
      throw error
    }
  }

  /** Runs the dialect's acquire, cancelling it on the server when `signal` fires. */
  async #grant(
    connection: DriverConnection,
    wait: LockWait,
    signal: AbortSignal | undefined,
    inTransaction: boolean,
  ): Promise<LockGrant> {
    if (signal === undefined) return this.#grantCreatingFencing(connection, wait, inTransaction)
    const settled = new AbortController()
    let cancelling: Promise<void> | undefined
    // A cancel that reaches the server before the statement starts is ignored: send it again
    // until the statement answers.
    const cancelUntilSettled = async (): Promise<void> => {
      while (!settled.signal.aborted) {
        await connection.cancel?.().catch(() => undefined)
        await sleep(CANCEL_RETRY_MS, settled.signal)
      }
    }
    const onAbort = (): void => {
      cancelling ??= cancelUntilSettled()
    }
    signal.addEventListener('abort', onAbort, { once: true })
    if (signal.aborted) onAbort()
    try {
      const grant = await this.#grantCreatingFencing(connection, wait, inTransaction).finally(() =>
        settled.abort(SETTLED),
      )
      if (signal.aborted) {
        // The abort lost the race with the grant: give the lock back, then report the abort.
        await cancelling
        if (grant.acquired) await this.#undo(connection, inTransaction)
        throw this.#aborted(signal)
      }
      return grant
    } catch (error) {
      if (signal.aborted && this.#dialect.isCancelled(error)) {
        await cancelling
        await this.#undo(connection, inTransaction)
        throw this.#aborted(signal)
      }
      throw error
    } finally {
      signal.removeEventListener('abort', onAbort)
    }
  }

  async #grantCreatingFencing(
    connection: DriverConnection,
    wait: LockWait,
    inTransaction: boolean,
  ): Promise<LockGrant> {
    const fencing = this.#fencing
    try {
      return await this.#dialect.acquire(connection, this.#request, wait, fencing, inTransaction)
    } catch (error) {
      if (fencing === undefined || !this.#dialect.isMissingFencing(error)) throw error
      // Concurrent first users may race to create it: whoever wins, the retry below finds it.
      const creation = await this.#createFencing(fencing).then(
        () => undefined,
        (creationError: unknown) => creationError,
      )
      try {
        return await this.#dialect.acquire(connection, this.#request, wait, fencing, inTransaction)
      } catch (retryError) {
        if (!this.#dialect.isMissingFencing(retryError)) throw retryError
        throw new ConfigurationError(
          `The fencing counter "${fencing.name}" does not exist and could not be created: create it (see the README) or grant the right to.`,
          { cause: creation ?? retryError },
        )
      }
    }
  }

  #createFencing(fencing: TableName): Promise<void> {
    return withConnection(this.#source, async (creator) =>
      this.#dialect.createFencing?.(creator, fencing),
    )
  }

  /**
   * After a cancelled wait, makes sure nothing is held: a session lock granted just before the
   * cancel arrived is released (a release of a lock not held only answers false), and a
   * transaction is rolled back. A late cancel may hit this statement too: it is then sent again.
   */
  async #undo(connection: DriverConnection, inTransaction: boolean): Promise<void> {
    if (this.#joinsTransaction) return
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (inTransaction) {
          await connection.query(this.#dialect.transaction.rollback)
          if (this.#dialect.transactionScope === 'native') return
        }
        await this.#dialect.release(connection, this.#request)
        return
      } catch (error) {
        if (!this.#dialect.isCancelled(error)) throw error
      }
    }
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
        this.#dialect.ping,
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
    const error = new LockLostError(
      `Lock ${describeKey(this.key)} was lost: ${why ?? `its ${this.#dialect.displayName} session ended, so the server released it`}.`,
      describeKey(this.key),
    )
    this.#lostError = error
    this.#holding?.abort(error)
    this.emit('lost', error)
  }

  /**
   * Runs a statement on the lock's own session (in its transaction, for `scope: 'transaction'`).
   * Placeholders are the driver's (`$1` for pg, `?` for mysql2).
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
    if (this.#status !== 'locked' || connection === undefined) throw this.#notHeld('query through')
    this.#queries++
    try {
      return await connection.query<Row>(sql, params)
    } catch (error) {
      // The statement was the first to hear that the session ended: the lock went with it.
      if (connection.lost || (this.#status as LockStatus) === 'lost') {
        throw this.#lostError ?? this.#lostBecause('its session ended', error)
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
      return this.#dialect.release(connection, this.#request)
    })
  }

  /** @internal Ends a transaction-scoped lock's transaction: COMMIT, or ROLLBACK when `commit` is false. */
  async endTransaction(commit: boolean): Promise<void> {
    await this.#end(async (connection) => {
      const statements = this.#dialect.transaction
      await connection.query(commit ? statements.commit : statements.rollback)
      if (this.#dialect.transactionScope === 'native') return true
      return this.#dialect.release(connection, this.#request)
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
      throw this.#lostError ?? this.#lostBecause('its session ended')
    }
    if (this.#status !== 'locked' || connection === undefined) throw this.#notHeld('release')
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
      if (lost) throw this.#lostBecause('its session ended before the release', error)
      throw error
    }
    if (!held) {
      this.#forget(connection, true)
      throw this.#lostBecause('the server says this session did not hold it')
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

  #lostBecause(why: string, cause?: unknown): LockLostError {
    return new LockLostError(
      `Lock ${describeKey(this.key)} was lost: ${why}.`,
      describeKey(this.key),
      cause === undefined ? undefined : { cause },
    )
  }

  #notHeld(action: string): LockStateError {
    return new LockStateError(
      `Cannot ${action} lock ${describeKey(this.key)}: it is ${this.#status === 'unlocked' ? 'not held' : this.#status}.`,
    )
  }

  #aborted(signal: AbortSignal): LockWaitAbortedError {
    return new LockWaitAbortedError(
      `The wait for lock ${describeKey(this.key)} was aborted; nothing is held.`,
      describeKey(this.key),
      { cause: signal.reason },
    )
  }

  /** Releases the lock if held (for `await using`); a lost lock throws `LockLostError`. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === 'locked' || this.#status === 'lost') await this.release()
  }
}
