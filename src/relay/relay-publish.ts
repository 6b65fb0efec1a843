import type { ClaimedMessage } from '../dialect/outbox-store-dialect.js'
import type { MessageBroker, PublishOutcome, RelayedMessage } from '../message/message-broker.js'
import { messageSize } from '../message/outbox-message.js'
import type { OutboxDefinition } from '../message/outbox-options.js'
import { spanSafeMessage, startLinkedSpan } from '../tracing/span.js'
import { errorMessage } from '../util/error-message.js'

/** What became of a batch's ready messages. */
export interface PublishResults {
  /** Positions published. */
  readonly published: string[]
  /** Failed tries: to retry later (or dead-letter after the last try). */
  readonly failed: Array<{ readonly message: ClaimedMessage; readonly error: string }>
  /** Never publishable: refused by the broker, unknown destination, too large. */
  readonly dead: Array<{ readonly message: ClaimedMessage; readonly reason: string }>
  /** Commit→publish lag of the last published message, ms. */
  readonly lastLagMs: number | undefined
}

/**
 * Publishes `ready` (in publish order) in waves: each wave holds at most one message of each key
 * (every message without a key goes in the first), one `publish` call per broker, brokers at
 * once. Once a message of a key fails or is refused, the key's later messages stay pending: the
 * failed one blocks its key until it is published or dead, and no broker ever sees a key's message
 * after one of its key that did not go. A message whose destination the relay's outbox does not
 * know, or larger than its broker takes, is dead-lettered with the reason, unpublished. Each
 * publish has a `txkit.outbox.publish` span linked to the sender's (`traceparent` header).
 *
 * @example
 * ```ts
 * const results = await publishReady(order.ready, outbox, brokers, performance.now())
 * ```
 */
export async function publishReady(
  ready: readonly ClaimedMessage[],
  outbox: OutboxDefinition,
  brokers: ReadonlyMap<string, MessageBroker>,
  claimedAt: number,
): Promise<PublishResults> {
  const run: Run = {
    published: [],
    failed: [],
    dead: [],
    lastLagMs: undefined,
    blocked: new Set<string>(),
    claimedAt,
    outbox,
    brokers,
  }
  for (const wave of waves(ready)) {
    const groups = new Map<string, ClaimedMessage[]>()
    for (const message of wave) {
      if (message.key !== null && run.blocked.has(message.key)) continue
      const destination = outbox.destinations.get(message.destination)
      if (destination === undefined) {
        dead(
          run,
          message,
          `destination "${message.destination}" is not in the relay's outbox destinations`,
        )
        continue
      }
      const group = groups.get(destination.broker) ?? []
      group.push(message)
      groups.set(destination.broker, group)
    }
    await Promise.all([...groups].map(([name, group]) => publishGroup(run, name, group)))
  }
  return {
    published: run.published,
    failed: run.failed,
    dead: run.dead,
    lastLagMs: run.lastLagMs,
  }
}

interface Run {
  published: string[]
  failed: Array<{ readonly message: ClaimedMessage; readonly error: string }>
  dead: Array<{ readonly message: ClaimedMessage; readonly reason: string }>
  lastLagMs: number | undefined
  readonly blocked: Set<string>
  readonly claimedAt: number
  readonly outbox: OutboxDefinition
  readonly brokers: ReadonlyMap<string, MessageBroker>
}

/** `ready` in waves: the n-th wave holds each key's n-th message; keyless ones go first. */
function waves(ready: readonly ClaimedMessage[]): ClaimedMessage[][] {
  const result: ClaimedMessage[][] = []
  const seen = new Map<string, number>()
  for (const message of ready) {
    let index = 0
    if (message.key !== null) {
      index = seen.get(message.key) ?? 0
      seen.set(message.key, index + 1)
    }
    while (result.length <= index) result.push([])
    result[index]?.push(message)
  }
  return result
}

function dead(run: Run, message: ClaimedMessage, reason: string): void {
  run.dead.push({ message, reason })
  if (message.key !== null) run.blocked.add(message.key)
}

async function publishGroup(
  run: Run,
  name: string,
  group: readonly ClaimedMessage[],
): Promise<void> {
  const broker = run.brokers.get(name) as MessageBroker
  const sending: Array<{ claimed: ClaimedMessage; relayed: RelayedMessage }> = []
  for (const message of group) {
    const relayed = relayedOf(message, run.outbox)
    if (relayed === undefined) {
      dead(run, message, 'its headers are not a JSON object of strings')
    } else if (messageSize(relayed) > broker.maxMessageBytes) {
      dead(
        run,
        message,
        `${messageSize(relayed)} bytes, more than broker "${name}" takes (${broker.maxMessageBytes})`,
      )
    } else {
      sending.push({ claimed: message, relayed })
    }
  }
  if (sending.length === 0) return
  const spans = sending.map(({ relayed }) =>
    startLinkedSpan(
      'txkit.outbox.publish',
      {
        'txkit.message.id': relayed.id,
        'txkit.message.destination': relayed.destination,
        'messaging.system': broker.kind,
      },
      relayed.headers.traceparent,
    ),
  )
  let outcomes: PublishOutcome[]
  try {
    outcomes = await broker.publish(sending.map(({ relayed }) => relayed))
  } catch (error) {
    outcomes = sending.map(() => ({ status: 'failed', error }))
  }
  for (const [index, { claimed }] of sending.entries()) {
    const outcome: PublishOutcome = outcomes[index] ?? {
      status: 'failed',
      error: new Error(`broker "${name}" answered no outcome for this message`),
    }
    if (outcome.status === 'published') {
      run.published.push(claimed.position)
      run.lastLagMs = claimed.ageMs + (performance.now() - run.claimedAt)
      spans[index]?.end()
    } else if (outcome.status === 'refused') {
      const reason = `refused by broker "${name}": ${safeText(outcome.reason)}`.slice(0, 1000)
      dead(run, claimed, reason)
      spans[index]?.end(new Error(reason))
    } else {
      run.failed.push({ message: claimed, error: safeText(errorMessage(outcome.error)) })
      if (claimed.key !== null) run.blocked.add(claimed.key)
      spans[index]?.end(outcome.error)
    }
  }
}

/**
 * An error's text as the outbox keeps it: URLs and quoted values out, 1000 characters at most.
 *
 * @example
 * ```ts
 * safeText('connect to postgres://app:pw@db failed') // 'connect to … failed'
 * ```
 */
export function safeText(text: string): string {
  return spanSafeMessage(text).slice(0, 1000)
}

function relayedOf(message: ClaimedMessage, outbox: OutboxDefinition): RelayedMessage | undefined {
  let headers: unknown
  try {
    headers = JSON.parse(message.headers)
  } catch {
    return undefined
  }
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return undefined
  if (Object.values(headers).some((value) => typeof value !== 'string')) return undefined
  return {
    id: message.id,
    destination: message.destination,
    key: message.key,
    headers: headers as Record<string, string>,
    body: message.body,
    contentType: message.contentType,
    address: outbox.destinations.get(message.destination)?.address ?? message.destination,
    attempts: message.attempts,
  }
}
