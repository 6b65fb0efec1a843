import type { SavepointScopes } from './savepoint-scopes.js'

/** The turns of the managed transaction each branch handle it handed out belongs to. */
const turnsOf = new WeakMap<object, SavepointScopes>()

/** @internal Records that `handle` is a branch of the managed transaction whose turns are `scopes`. */
export function registerBranchTurns(handle: object, scopes: SavepointScopes): void {
  turnsOf.set(handle, scopes)
}

/**
 * Runs `work`, which sets savepoints of its own on `handle`'s session (the runner's attempts), in
 * a turn of the handle's managed transaction: a sibling flow's savepoint waits until it has ended,
 * and everything `work` starts is inside it. A handle of no managed transaction runs `work` as is.
 *
 * @throws ConcurrentSavepointError the turn did not come within `siblingWaitTimeout`.
 * @example
 * ```ts
 * await inBranchTurn(branch, 'a runner operation', () => attemptInSavepoint())
 * ```
 */
export function inBranchTurn<Result>(
  handle: unknown,
  what: string,
  work: () => Promise<Result>,
): Promise<Result> {
  const scopes = typeof handle === 'object' && handle !== null ? turnsOf.get(handle) : undefined
  return scopes === undefined ? work() : scopes.exclusive(what, work)
}
