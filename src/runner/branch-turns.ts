/**
 * The turns of a transaction whose savepoints are taken one flow at a time (a managed
 * transaction's `SavepointScopes`). The runner needs only this much of them, so it asks for an
 * interface of its own and never imports the manager, which sits above it.
 */
export interface BranchTurns {
  /** Runs `work` in a turn of the calling flow: a sibling flow's savepoint waits until it ends. */
  exclusive<Result>(what: string, work: () => Promise<Result>): Promise<Result>
}

/** The turns of the managed transaction each branch handle it handed out belongs to. */
const turnsOf = new WeakMap<object, BranchTurns>()

/** @internal Records that `handle` is a branch of the managed transaction whose turns are `turns`. */
export function registerBranchTurns(handle: object, turns: BranchTurns): void {
  turnsOf.set(handle, turns)
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
  const turns = typeof handle === 'object' && handle !== null ? turnsOf.get(handle) : undefined
  return turns === undefined ? work() : turns.exclusive(what, work)
}
