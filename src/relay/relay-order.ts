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
 * message of its key before it is in this batch: the claimed messages of a key count from the
 * key's lowest pending sequence number (`lowest`, read over every pending row, those other relays
 * hold included) while contiguous: seq, seq + 1, …. A key whose lowest pending message another
 * relay holds, or which waits for its retry, is skipped this round. Messages without a key go in
 * any order.
 *
 * @example
 * ```ts
 * publishOrder(claimed, new Map([['order-7', 3]])) // order-7's claimed 3, 4 … while contiguous
 * ```
 */
export function publishOrder(
  claimed: readonly ClaimedMessage[],
  lowest: ReadonlyMap<string, number>,
): PublishOrder {
  const byKey = new Map<string, ClaimedMessage[]>()
  for (const message of claimed) {
    if (message.key === null) continue
    const list = byKey.get(message.key) ?? []
    list.push(message)
    byKey.set(message.key, list)
  }
  const allowed = new Set<ClaimedMessage>()
  const sequenced = new Map<string, ClaimedMessage[]>()
  for (const [key, messages] of byKey) {
    messages.sort((a, b) => (a.keySeq ?? 0) - (b.keySeq ?? 0))
    let next = lowest.get(key)
    const run: ClaimedMessage[] = []
    for (const message of messages) {
      if (next === undefined || message.keySeq !== next) break
      run.push(message)
      allowed.add(message)
      next++
    }
    sequenced.set(key, run)
  }
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
