import { ConfigurationError } from '../errors/configuration-error.js'
import { describeValue } from './describe-value.js'

/**
 * Refuses option names outside `allowed`, so that a misspelt or misplaced option is an error rather
 * than silently ignored. `hints` name the right spelling or place for likely mistakes.
 */
export function checkOptionNames(
  options: object,
  allowed: ReadonlySet<string>,
  where: string,
  hints: Readonly<Record<string, string>> = {},
): void {
  for (const name of Object.keys(options)) {
    if (allowed.has(name)) continue
    const hint = hints[name]
    throw new ConfigurationError(
      `Unknown option ${describeValue(name)} for ${where}${hint ? `: use ${hint}` : `; known: ${[...allowed].join(', ')}`}.`,
    )
  }
}
