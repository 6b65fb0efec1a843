import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from '../util/describe-value.js'

/** The prefix txkit writes into transaction ids when none is configured. */
export const DEFAULT_PREFIX = 'txkit'

const PREFIX_PATTERN = /^[a-z]{1,8}$/

/**
 * Checks a deployment prefix: 1 to 8 lowercase letters. Recovery recognises its own transactions
 * by this prefix and never touches any other prepared transaction, so every writer and recovery
 * worker of one deployment must use the same one.
 *
 * @throws ConfigurationError naming the bad value and the rule.
 * @example
 * ```ts
 * validatePrefix('billing') // 'billing'
 * validatePrefix("x'; drop table t; --") // throws ConfigurationError
 * ```
 */
export function validatePrefix(prefix: unknown): string {
  if (typeof prefix === 'string' && PREFIX_PATTERN.test(prefix)) {
    return prefix
  }
  throw new ConfigurationError(
    `Invalid deployment prefix ${describeValue(prefix)}: use 1 to 8 lowercase letters a-z, such as "billing". ` +
      'It is written into every transaction id, and recovery only touches transactions with its prefix.',
  )
}
