/**
 * Where txkit writes what it did not throw: branches left for recovery, cleanup that failed. pino
 * loggers and `console` both fit (`logger.warn({ gtrid }, 'message')`).
 */
export interface Logger {
  debug?(fields: object, message: string): void
  info?(fields: object, message: string): void
  warn(fields: object, message: string): void
  error(fields: object, message: string): void
}

/** The logger used when none is given: silent. */
export const silentLogger: Logger = {
  warn() {},
  error() {},
}
