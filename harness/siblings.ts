/**
 * Two async flows of one txkit transaction that each open a tool's own transaction (the issue's
 * `Promise.all` inside `manager.run`): the first begins and writes; the second begins after it,
 * writes and commits; then the first fails. Without txkit the two are separate transactions and
 * the second's row stays; inside one, the second must never be told "committed" and lose its row
 * to the first one's rollback.
 */
import assert from 'node:assert/strict'
import { sleep } from '../src/util/sleep.js'

/** Runs `work` in the tool's own transaction; `write(id)` inserts an entry through it. */
export type ToolTransaction = (
  work: (write: (id: string) => Promise<unknown>) => Promise<void>,
) => Promise<unknown>

export interface SiblingOutcome {
  /** What the first flow's transaction ended with (its own error, as it threw). */
  readonly first: unknown
  /** 'committed' when the second was told its transaction committed, else its error. */
  readonly second: unknown
  /** What happened, in order. */
  readonly events: readonly string[]
}

/**
 * Runs the scenario inside the current txkit transaction. The first flow holds its transaction
 * open until the second has settled (or, when the second is made to wait, for a while: long
 * enough that on code which let it through it would have committed).
 */
export async function overlappingSiblings(inTransaction: ToolTransaction): Promise<SiblingOutcome> {
  const events: string[] = []
  let firstWrote = (): void => undefined
  const wrote = new Promise<void>((resolve) => {
    firstWrote = resolve
  })
  let secondSettled = (): void => undefined
  const settled = new Promise<void>((resolve) => {
    secondSettled = resolve
  })
  const first = inTransaction(async (write) => {
    await write('first')
    events.push('first wrote')
    firstWrote()
    await Promise.race([settled, sleep(500)])
    events.push('first fails')
    throw new Error('the first sibling fails')
  }).then(
    () => 'committed',
    (error: unknown) => error,
  )
  const second = (async () => {
    await wrote
    events.push('second begins')
    return inTransaction(async (write) => {
      await write('second')
      events.push('second wrote')
    }).then(
      () => {
        events.push('second committed')
        return 'committed'
      },
      (error: unknown) => error,
    )
  })().finally(secondSettled)
  return { first: await first, second: await second, events }
}

/**
 * The outcome that keeps the promise: the first failed, the second was told "committed" and its
 * row (alone) is committed, and it ran after the first had ended.
 */
export function assertSecondKept(outcome: SiblingOutcome, committedIds: readonly string[]): void {
  assert.equal((outcome.first as Error).message, 'the first sibling fails')
  assert.equal(outcome.second, 'committed', String(outcome.second))
  assert.deepEqual(committedIds, ['second'], 'the row of the sibling told "committed" is kept')
  assert.deepEqual(outcome.events, [
    'first wrote',
    'second begins',
    'first fails',
    'second wrote',
    'second committed',
  ])
}
