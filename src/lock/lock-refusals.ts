import { LockLostError } from '../errors/lock-lost-error.js'
import { LockReentryError } from '../errors/lock-reentry-error.js'
import { LockStateError } from '../errors/lock-state-error.js'
import { LockTimeoutError } from '../errors/lock-timeout-error.js'
import { LockWaitAbortedError } from '../errors/lock-wait-aborted-error.js'
import { describeKey, type LockKey } from './lock-key.js'

// Shared abort reasons: an Error per acquisition would cost its stack trace on the hot path.
export const NOT_HELD = new LockStateError('The lock is not held.')
export const RELEASED = new LockStateError('The lock was released.')
export const RELEASED_CONTROLLER = new AbortController()
RELEASED_CONTROLLER.abort(RELEASED)

/** The events a `DatabaseLock` emits. */
export interface LockEvents {
  /** The session holding the lock ended: the server released it. */
  lost: [error: LockLostError]
}

/** Where a lock stands. `lost`: its session ended while it was held. */
export type LockStatus = 'unlocked' | 'acquiring' | 'locked' | 'releasing' | 'lost'

/**
 * Why a lock in `status` may not be taken now: held by this object already, on its way in or out,
 * or held by an enclosing `withLock` (the wait would be on itself); undefined when it may.
 */
export function refuseTake(
  key: LockKey,
  status: LockStatus,
  heldByEnclosing: boolean,
): Error | undefined {
  if (status === 'locked') {
    return new LockReentryError(
      `Lock ${describeKey(key)} is already held by this lock object: txkit never stacks a lock on itself.`,
      describeKey(key),
    )
  }
  if (status === 'acquiring' || status === 'releasing') {
    return new LockStateError(`Lock ${describeKey(key)} is ${status}; wait for it first.`)
  }
  if (heldByEnclosing) {
    return new LockReentryError(
      `Lock ${describeKey(key)} is already held by an enclosing withLock: taking it again would wait on itself forever.`,
      describeKey(key),
    )
  }
  return undefined
}

/** The lock was not granted within `wait` ms. */
export function lockTimeout(key: LockKey, wait: number | null): LockTimeoutError {
  return new LockTimeoutError(
    `Lock ${describeKey(key)} was not granted within ${wait} ms: another session holds it.`,
    describeKey(key),
    wait ?? 0,
  )
}

/** The lock was lost for the reason `why` (its session ended, or the server says so). */
export function lockLost(key: LockKey, why: string, cause?: unknown): LockLostError {
  return new LockLostError(
    `Lock ${describeKey(key)} was lost: ${why}.`,
    describeKey(key),
    cause === undefined ? undefined : { cause },
  )
}

/** `action` needs the lock held, and in `status` it is not. */
export function notHeld(key: LockKey, action: string, status: LockStatus): LockStateError {
  return new LockStateError(
    `Cannot ${action} lock ${describeKey(key)}: it is ${status === 'unlocked' ? 'not held' : status}.`,
  )
}

/** The wait was aborted through `signal`; nothing is held. */
export function waitAborted(key: LockKey, signal: AbortSignal): LockWaitAbortedError {
  return new LockWaitAbortedError(
    `The wait for lock ${describeKey(key)} was aborted; nothing is held.`,
    describeKey(key),
    { cause: signal.reason },
  )
}
