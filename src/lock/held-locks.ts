import { AsyncLocalStorage } from 'node:async_hooks'

/**
 * The locks `withLock` holds around the current async context. A nested `withLock` for one of them
 * would wait on its own holder forever (each lock has its own session); it is refused instead.
 */
const held = new AsyncLocalStorage<ReadonlySet<string>>()

export function heldInContext(name: string): boolean {
  return held.getStore()?.has(name) === true
}

export function runHolding<Result>(name: string, work: () => Result): Result {
  const outer = held.getStore()
  return held.run(new Set(outer).add(name), work)
}
