import { TxkitError } from './txkit-error.js'

/**
 * A relay's broker or outbox is not what it was told: the broker does not answer or refuses the
 * credentials, an exchange, stream or queue is missing, the outbox table does not exist. The relay
 * publishes nothing and stops; the CLI exits 2. The message names what to fix.
 */
export class BrokerSetupError extends TxkitError {
  override readonly code = 'TXKIT_BROKER_SETUP'
  readonly isBrokerSetupError = true
}

/**
 * True when `e` is a {@link BrokerSetupError}.
 *
 * @example
 * ```ts
 * try { await relay.start() } catch (e) { if (isBrokerSetupError(e)) process.exitCode = 2 }
 * ```
 */
export function isBrokerSetupError(e: unknown): e is BrokerSetupError {
  return e instanceof Error && (e as Partial<BrokerSetupError>).isBrokerSetupError === true
}
