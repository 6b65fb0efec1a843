import type { Logger } from '../util/logger.js'
import { redactUrlsIn } from '../util/redact-url.js'

type Level = 'debug' | 'info' | 'warn' | 'error'

/** A field's value in a text log line: plain words as they are, anything else as JSON. */
function text(value: unknown): string {
  if (typeof value === 'string') return /^[\w.:/@-]*$/.test(value) ? value : JSON.stringify(value)
  return JSON.stringify(value) ?? String(value)
}

/**
 * The CLI's logger, writing to `write` (stderr): one line per record, with a timestamp and a level,
 * as text (`2026-11-30T15:00:00.000Z warn txkit watch: round failed database=orders error="…"`) or,
 * with `json`, as one JSON object per line. Passwords are redacted from every line.
 *
 * @example
 * ```ts
 * const logger = cliLogger(true, (line) => process.stderr.write(line))
 * logger.warn({ database: 'orders' }, 'txkit watch: round failed')
 * ```
 */
export function cliLogger(json: boolean, write: (line: string) => void): Logger {
  const log =
    (level: Level) =>
    (fields: object, message: string): void => {
      const time = new Date().toISOString()
      const line = json
        ? JSON.stringify({ time, level, message, ...fields })
        : [
            time,
            level,
            message,
            ...Object.entries(fields).map(([key, value]) => `${key}=${text(value)}`),
          ].join(' ')
      write(`${redactUrlsIn(line)}\n`)
    }
  return { info: log('info'), warn: log('warn'), error: log('error') }
}
