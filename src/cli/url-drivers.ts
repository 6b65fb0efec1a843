import type { UrlDriver } from '../database/url-driver.js'
import { mariadbUrls } from '../mysql/mariadb.js'
import { mysql2Urls } from '../mysql/mysql2.js'
import { nodePostgresUrls } from '../postgres/node-postgres.js'
import { postgresJsUrls } from '../postgres/postgres-js.js'
import type { Values } from './cli-options.js'
import { UsageError } from './usage-error.js'

/**
 * The drivers the CLI opens `--db` URLs with, by the name `--driver` takes (that of its txkit entry
 * point), in order of preference for each scheme: without `--driver`, the first whose package is
 * installed opens it.
 */
export const CLI_URL_DRIVERS: ReadonlyMap<string, UrlDriver> = new Map([
  ['node-postgres', nodePostgresUrls],
  ['postgres-js', postgresJsUrls],
  ['mysql2', mysql2Urls],
  ['mariadb', mariadbUrls],
])

/** `node-postgres, postgres-js (postgres://, postgresql://); mysql2, mariadb (mysql://, mariadb://)`. */
export const DRIVER_CHOICES: string = (() => {
  const bySchemes = new Map<string, string[]>()
  for (const [name, driver] of CLI_URL_DRIVERS) {
    const schemes = driver.schemes.map((scheme) => `${scheme}://`).join(', ')
    bySchemes.set(schemes, [...(bySchemes.get(schemes) ?? []), name])
  }
  return [...bySchemes].map(([schemes, names]) => `${names.join(', ')} (${schemes})`).join('; ')
})()

/**
 * The drivers URLs are opened with: each `--driver` replaces the others for the schemes it opens
 * (so that recovery opens a database with the driver its writers use); the rest keep their order.
 *
 * @throws UsageError for a name that is no driver, or two drivers named for one scheme.
 */
export function urlDriversOf(values: Values): readonly UrlDriver[] {
  const chosen: UrlDriver[] = []
  for (const name of values.driver ?? []) {
    const driver = CLI_URL_DRIVERS.get(name)
    if (driver === undefined) {
      // A name is shown; anything else might be a URL or a password given in the wrong place.
      const shown = /^[\w.-]{1,40}$/.test(name) ? `"${name}"` : 'the value given'
      throw new UsageError(`--driver takes one of ${DRIVER_CHOICES}; ${shown} is none of them.`)
    }
    const clash = chosen.find((other) => other.schemes.some((s) => driver.schemes.includes(s)))
    if (clash !== undefined && clash !== driver) {
      throw new UsageError(
        `--driver names two drivers for ${driver.schemes.map((s) => `${s}://`).join(', ')} URLs: choose one.`,
      )
    }
    if (clash === undefined) chosen.push(driver)
  }
  const others = [...CLI_URL_DRIVERS.values()].filter(
    (driver) => !chosen.some((each) => each.schemes.some((s) => driver.schemes.includes(s))),
  )
  return [...chosen, ...others]
}

/**
 * Refuses a `--driver` that opens none of the URLs: it would change nothing, and the operator
 * would believe it did.
 */
export function checkDriversUsed(values: Values, urls: readonly string[]): void {
  const schemes = new Set(urls.map((url) => new URL(url).protocol.replace(/:$/, '').toLowerCase()))
  for (const name of values.driver ?? []) {
    const driver = CLI_URL_DRIVERS.get(name)
    if (driver !== undefined && !driver.schemes.some((scheme) => schemes.has(scheme))) {
      throw new UsageError(
        `--driver ${name} opens ${driver.schemes.map((s) => `${s}://`).join(', ')} URLs, and no --db is one.`,
      )
    }
  }
}
