import { TxkitError } from './txkit-error.js'

/**
 * Why a savepoint, or a query builder's or ORM's own transaction, was not begun inside a txkit
 * transaction: `refused`, at once, because txkit cannot tell whether it belongs inside a savepoint
 * that is open (one set with the handle form of `tx.savepoint()`); `timeout`, because it waited
 * its turn behind a sibling's savepoint or transaction for `siblingWaitTimeout` and the sibling
 * did not end (often: the sibling is waiting for this very work).
 */
export type ConcurrentSavepointReason = 'refused' | 'timeout'

/**
 * Two async flows of one txkit transaction each wanted a savepoint of their own (an ORM's
 * transaction inside a txkit one is a savepoint): their savepoints would nest, and the first one's
 * rollback would undo the second's work after it was reported done. txkit runs such siblings one
 * after another; this error says one of them could not have its turn. Nothing of the refused work
 * ran: the txkit transaction goes on, and may commit.
 */
export class ConcurrentSavepointError extends TxkitError {
  override readonly code = 'TXKIT_CONCURRENT_SAVEPOINT'
  readonly isConcurrentSavepointError = true
  readonly reason: ConcurrentSavepointReason

  constructor(reason: ConcurrentSavepointReason, message: string) {
    super(message)
    this.reason = reason
  }
}

/**
 * True when `e` is a {@link ConcurrentSavepointError}.
 *
 * @example
 * ```ts
 * await manager.run(async (tx) => {
 *   const outer = await tx.savepoint()
 *   await tx.savepoint().catch((e) => isConcurrentSavepointError(e)) // true: nest with outer.savepoint()
 * })
 * ```
 */
export function isConcurrentSavepointError(e: unknown): e is ConcurrentSavepointError {
  return (
    e instanceof Error &&
    (e as Partial<ConcurrentSavepointError>).isConcurrentSavepointError === true
  )
}
