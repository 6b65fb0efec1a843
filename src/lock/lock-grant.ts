import { withConnection } from '../database/with-connection.js'
import type { LockGrant, LockRequest, LockWait } from '../dialect/lock-dialect.js'
import type { TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { startSpan } from '../tracing/span.js'
import { sleep } from '../util/sleep.js'
import type { LockSource } from './lock-source.js'

const SETTLED = new Error('The wait answered.')
const CANCEL_RETRY_MS = 250

/** One lock's request to its database, as `DatabaseLock` asks for it. */
export interface GrantRequest {
  readonly source: LockSource
  readonly request: LockRequest
  /** The fencing counter to draw a token from once held. */
  readonly fencing: TableName | undefined
  /** Whether the lock joins a transaction someone else opened and ends (the transaction manager). */
  readonly joinsTransaction: boolean
  /** The error to throw for a wait that `signal` aborted: nothing is held then. */
  aborted(signal: AbortSignal): Error
  /** The error to throw for a lock lost for the reason `why`. */
  lost(why: string): Error
}

/** Runs `take` in a `txkit.lock.acquire` span when tracing is on. */
export async function traceAcquire(
  request: LockRequest,
  take: () => Promise<boolean>,
): Promise<boolean> {
  const span = startSpan('txkit.lock.acquire', {
    'txkit.lock.id': String(request.id),
    'txkit.lock.mode': request.mode,
    'txkit.lock.scope': request.scope,
  })
  if (span === undefined) return take()
  try {
    const acquired = await take()
    span.set({ 'txkit.lock.acquired': acquired })
    span.end()
    return acquired
  } catch (error) {
    span.end(error)
    throw error
  }
}

/**
 * Checks a session out of the source and takes the lock on it (opening the lock's transaction
 * first where the lock owns one): the session and the grant when granted; undefined, the session
 * given back, when the wait ended without the lock. A failure closes the session.
 */
export async function takeOnSession(
  lock: GrantRequest,
  wait: LockWait,
  signal: AbortSignal | undefined,
): Promise<{ readonly connection: DriverConnection; readonly grant: LockGrant } | undefined> {
  const dialect = lock.source.lockDialect
  let connection: DriverConnection | undefined
  try {
    connection = await lock.source.acquire()
    if (signal !== undefined && connection.cancel === undefined && wait !== 0) {
      throw new ConfigurationError(
        `This ${dialect.displayName} driver adapter cannot cancel a statement: an AbortSignal cannot stop the wait. Use a timeout.`,
      )
    }
    if (signal?.aborted) throw lock.aborted(signal)
    const inTransaction = lock.request.scope === 'transaction'
    const opensTransaction = inTransaction && !lock.joinsTransaction
    if (opensTransaction && dialect.transaction.begin !== '') {
      await connection.query(dialect.transaction.begin)
    }
    const grant = await grantLock(lock, connection, wait, signal, inTransaction)
    if (grant.acquired) await connection.settle?.()
    if (grant.acquired && connection.lost) {
      // Granted, then the session ended before the caller could use it: the server has
      // released the lock already. Never resolve with a lock that is lost.
      throw lock.lost('its session ended right after the grant')
    }
    if (!grant.acquired) {
      if (opensTransaction) await connection.query(dialect.transaction.rollback)
      connection.release(false)
      return undefined
    }
    return { connection, grant }
  } catch (error) {
    connection?.release(true)
    throw error
  }
}

/**
 * Runs the dialect's acquire on `connection`, creating the fencing counter on first use and
 * cancelling the wait on the server when `signal` fires; a grant that wins the race with the
 * abort is given back before the abort is reported.
 */
async function grantLock(
  lock: GrantRequest,
  connection: DriverConnection,
  wait: LockWait,
  signal: AbortSignal | undefined,
  inTransaction: boolean,
): Promise<LockGrant> {
  if (signal === undefined) return grantCreatingFencing(lock, connection, wait, inTransaction)
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
    const grant = await grantCreatingFencing(lock, connection, wait, inTransaction).finally(() =>
      settled.abort(SETTLED),
    )
    if (signal.aborted) {
      // The abort lost the race with the grant: give the lock back, then report the abort.
      await cancelling
      if (grant.acquired) await undoGrant(lock, connection, inTransaction)
      throw lock.aborted(signal)
    }
    return grant
  } catch (error) {
    if (signal.aborted && lock.source.lockDialect.isCancelled(error)) {
      await cancelling
      await undoGrant(lock, connection, inTransaction)
      throw lock.aborted(signal)
    }
    throw error
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

async function grantCreatingFencing(
  lock: GrantRequest,
  connection: DriverConnection,
  wait: LockWait,
  inTransaction: boolean,
): Promise<LockGrant> {
  const { fencing, request } = lock
  const dialect = lock.source.lockDialect
  try {
    return await dialect.acquire(connection, request, wait, fencing, inTransaction)
  } catch (error) {
    if (fencing === undefined || !dialect.isMissingFencing(error)) throw error
    // Concurrent first users may race to create it: whoever wins, the retry below finds it.
    const creation = await withConnection(lock.source, async (creator) =>
      dialect.createFencing?.(creator, fencing),
    ).then(
      () => undefined,
      (creationError: unknown) => creationError,
    )
    try {
      return await dialect.acquire(connection, request, wait, fencing, inTransaction)
    } catch (retryError) {
      if (!dialect.isMissingFencing(retryError)) throw retryError
      throw new ConfigurationError(
        `The fencing counter "${fencing.name}" does not exist and could not be created: create it (see the README) or grant the right to.`,
        { cause: creation ?? retryError },
      )
    }
  }
}

/**
 * After a cancelled wait, makes sure nothing is held: a session lock granted just before the
 * cancel arrived is released (a release of a lock not held only answers false), and a
 * transaction is rolled back. A late cancel may hit this statement too: it is then sent again.
 */
async function undoGrant(
  lock: GrantRequest,
  connection: DriverConnection,
  inTransaction: boolean,
): Promise<void> {
  if (lock.joinsTransaction) return
  const dialect = lock.source.lockDialect
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      if (inTransaction) {
        await connection.query(dialect.transaction.rollback)
        if (dialect.transactionScope === 'native') return
      }
      await dialect.release(connection, lock.request)
      return
    } catch (error) {
      if (!dialect.isCancelled(error)) throw error
    }
  }
}
