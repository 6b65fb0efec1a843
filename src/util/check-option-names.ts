import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from './describe-value.js'

/**
 * Refuses option names outside `allowed`, so that a misspelt or misplaced option is an error rather
 * than silently ignored. The error names the nearest valid option; `hints` name the right spelling
 * or place for likely mistakes that are not near misses.
 *
 * @example
 * ```ts
 * checkOptionNames({ prefx: 'billing' }, new Set(['prefix']), 'createCoordinator()')
 * // ConfigurationError: Unknown option "prefx" for createCoordinator(): did you mean "prefix"? …
 * ```
 */
export function checkOptionNames(
  options: object,
  allowed: ReadonlySet<string>,
  where: string,
  hints: Readonly<Record<string, string>> = {},
): void {
  if (options === null || typeof options !== 'object') {
    throw new ConfigurationError(`${where} takes an options object, not ${describeValue(options)}.`)
  }
  for (const name of Object.keys(options)) {
    if (allowed.has(name)) continue
    const hint = hints[name]
    const nearest = nearestName(name, allowed)
    const advice = hint
      ? `: use ${hint}`
      : `${nearest === undefined ? '.' : `: did you mean "${nearest}"?`} Known options: ${[...allowed].join(', ')}`
    throw new ConfigurationError(`Unknown option ${describeValue(name)} for ${where}${advice}.`)
  }
}

/** The allowed name closest to `name` (case-insensitive edit distance), if any is close enough. */
function nearestName(name: string, allowed: ReadonlySet<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of allowed) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, index) => index)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}
