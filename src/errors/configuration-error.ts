import { TxkitError } from './txkit-error.js'

/**
 * Invalid options or a database set up in a way txkit cannot work with. The message names the
 * problem and the fix. Nothing was written when this is thrown from a constructor or `begin`.
 */
export class ConfigurationError extends TxkitError {
  override readonly code: string = 'TXKIT_CONFIGURATION'
  readonly isConfigurationError = true
}

/**
 * True when `e` is a {@link ConfigurationError} (including its subclasses).
 *
 * @example
 * ```ts
 * try { createCoordinator({ prefix: 'Bad!', decisionLog: db }) } catch (e) { isConfigurationError(e) } // true
 * ```
 */
export function isConfigurationError(e: unknown): e is ConfigurationError {
  return e instanceof Error && (e as Partial<ConfigurationError>).isConfigurationError === true
}
