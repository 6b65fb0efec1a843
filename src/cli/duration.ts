import { UsageError } from './usage-error.js'

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * Parses `500ms`, `15s`, `2m`, `1h`, `7d` (or `0`) into milliseconds.
 *
 * @example
 * ```ts
 * parseDuration('1.5s', '--min-age') // 1500
 * ```
 */
export function parseDuration(text: string, option: string): number {
  if (text === '0') return 0
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(text.trim())
  if (match === null) {
    throw new UsageError(`${option} takes a duration such as 500ms, 15s, 2m or 1h, not "${text}".`)
  }
  return Number(match[1]) * (UNITS[match[2] ?? 's'] ?? 1000)
}
