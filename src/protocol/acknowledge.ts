import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from '../util/describe-value.js'
import type { CommitProtocolName } from '../xid/xid.js'
import type { Acknowledge } from './commit-result.js'

/** The option names of `tx.commit()`. */
export const COMMIT_OPTIONS: ReadonlySet<string> = new Set(['acknowledge'])

/**
 * `value` as an {@link Acknowledge}, refused when it is none or when the protocol has no decision
 * to acknowledge at (`sequential`).
 *
 * @example
 * ```ts
 * checkAcknowledge('decision', 'decision') // 'decision'
 * ```
 */
export function checkAcknowledge(value: unknown, protocol: CommitProtocolName): Acknowledge {
  if (value !== 'commit' && value !== 'decision') {
    throw new ConfigurationError(
      `acknowledge must be "commit" (the default: once every branch is committed) or "decision" (once the decision is durable), not ${describeValue(value)}.`,
    )
  }
  if (value === 'decision' && protocol === 'sequential') {
    throw new ConfigurationError(
      'acknowledge: "decision" needs the decision or parallel protocol: the sequential protocol records no decision to acknowledge at.',
    )
  }
  return value
}
