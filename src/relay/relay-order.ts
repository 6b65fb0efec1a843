import type { ClaimedMessage } from '../dialect/outbox-store-dialect.js'

/** A batch's claimed messages split into those to publish now, in order, and those left. */
export interface PublishOrder {
  /** To publish, by position, each key's messages in sequence. */
  readonly ready: readonly ClaimedMessage[]
  /** Left pending this round: their key's lowest pending message is elsewhere or waiting. */
  readonly skipped: number
}

/**
 * Which claimed messages may be published now. A keyed message goes only when every pending
 * message of its key before it is in this batch: each key's claimed messages, in their key's order
 * (`keySeq`), are matched against the key's pending messages up to the last of them (`turns`, read
 * over every pending row, those other relays hold included) while they are the same. A key whose
 * first pending message another relay holds, or which waits for its retry, is skipped this round.
 * Messages without a key go in any order.
 *
 * @example
 * ```ts
 * publishOrder(claimed, new Map([['order-7', [3, 4, 9]]])) // order-7's claimed 3, 4, 9 … while they match
 * ```
 */
export function publishOrder(
  claimed: readonly ClaimedMessage[],
  turns: ReadonlyMap<string, readonly number[]>,
): PublishOrder {
  const sequenced = new Map<string, ClaimedMessage[]>()
  for (const [key, messages] of keyedByKey(claimed)) {
    messages.sort((a, b) => (a.keySeq ?? 0) - (b.keySeq ?? 0))
    const pending = turns.get(key) ?? []
    let matched = 0
    while (matched < messages.length && messages[matched]?.keySeq === pending[matched]) matched++
    sequenced.set(key, messages.slice(0, matched))
  }
  const allowed = new Set([...sequenced.values()].flat())
  // Each key's slots, in position order, are filled by its messages in sequence order.
  const ready: ClaimedMessage[] = []
  const taken = new Map<string, number>()
  for (const message of claimed) {
    if (message.key === null) {
      ready.push(message)
    } else if (allowed.has(message)) {
      const index = taken.get(message.key) ?? 0
      taken.set(message.key, index + 1)
      ready.push((sequenced.get(message.key) as ClaimedMessage[])[index] as ClaimedMessage)
    }
  }
  return { ready, skipped: claimed.length - ready.length }
}

/** The claimed messages that have a key, by key. */
function keyedByKey(claimed: readonly ClaimedMessage[]): Map<string, ClaimedMessage[]> {
  const byKey = new Map<string, ClaimedMessage[]>()
  for (const message of claimed) {
    if (message.key === null) continue
    const list = byKey.get(message.key) ?? []
    list.push(message)
    byKey.set(message.key, list)
  }
  return byKey
}
