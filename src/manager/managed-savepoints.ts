import type { TransactionSavepoint } from '../commit/distributed-transaction.js'
import type { SavepointScope, SavepointScopes } from './savepoint-scopes.js'

/**
 * A savepoint set with the handle form of `tx.savepoint()`. Savepoints nested in it are set with
 * its own `savepoint()`: txkit then knows they are inside it, not beside it.
 */
export interface ManagedSavepoint extends TransactionSavepoint {
  /** Sets a savepoint inside this one (from the same async flow). */
  savepoint(): Promise<ManagedSavepoint>
}

/**
 * The handle form, `tx.savepoint()`: a savepoint below `parent` (default the calling flow's scope)
 * held until released. `assertActive` refuses a nested savepoint once the transaction has ended.
 *
 * @example
 * ```ts
 * const savepoint = await savepointHandle(scopes, undefined, () => assertActive('set a savepoint'))
 * await importBatch(rows).catch(() => savepoint.rollback())
 * ```
 */
export async function savepointHandle(
  scopes: SavepointScopes,
  parent: SavepointScope | undefined,
  assertActive: () => void,
): Promise<ManagedSavepoint> {
  const scope = await scopes.open('handle', 'tx.savepoint()', parent)
  const inner = scope.savepoint as TransactionSavepoint
  return {
    name: inner.name,
    savepoint: async () => {
      assertActive()
      if (scope.ended) await inner.release() // refused: it no longer exists
      return savepointHandle(scopes, scope, assertActive)
    },
    rollback: async () => {
      await inner.rollback()
      // Savepoints set inside it are gone.
      if (scope.child !== undefined) scopes.end(scope.child)
    },
    release: async () => {
      await inner.release()
      scopes.end(scope)
    },
  }
}

/**
 * The callback form, `tx.savepoint(work)`: runs `work` as the flow of a savepoint, released when it
 * resolves, rolled back (and the error rethrown) when it throws.
 *
 * @example
 * ```ts
 * await inSavepoint(scopes, () => importBatch(rows))
 * ```
 */
export async function inSavepoint<Result>(
  scopes: SavepointScopes,
  work: () => Promise<Result>,
): Promise<Result> {
  const scope = await scopes.open('callback', 'tx.savepoint(work)')
  const inner = scope.savepoint as TransactionSavepoint
  let result: Result
  try {
    result = await scopes.within(scope, work)
  } catch (error) {
    try {
      await inner.rollback()
      await inner.release()
    } catch {
      // The transaction is uncommittable now (see DistributedTransaction.uncommittable).
    } finally {
      scopes.end(scope)
    }
    throw error
  }
  try {
    await inner.release()
  } finally {
    scopes.end(scope)
  }
  return result
}
