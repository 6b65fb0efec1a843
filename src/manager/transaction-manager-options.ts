import { COORDINATOR_OPTIONS, type CoordinatorOptions } from '../commit/coordinator.js'
import type { UrlDriver } from '../database/url-driver.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { checkOptionNames } from '../util/check-option-names.js'

export interface TransactionManagerOptions extends Omit<CoordinatorOptions, 'decisionDatabases'> {
  /**
   * When true, using the current transaction where none was begun (`manager.get()`,
   * `manager.join()` …) is an error. When false (the default, as in Zope), it begins one for the
   * calling async context.
   */
  readonly explicit?: boolean
  /**
   * How `tx.connect(url)` opens a connection string: the drivers to try for its scheme, such as
   * `[nodePostgresUrls, mysql2Urls]` from `txkit/node-postgres` and `txkit/mysql2` (default: none,
   * so `tx.connect` is refused with a message saying so).
   */
  readonly urlDrivers?: readonly UrlDriver[]
  /**
   * How long, in ms, a savepoint, an ORM's own transaction or a statement waits for a sibling's
   * savepoint or ORM transaction (another async flow of the same txkit transaction) to end before
   * it fails with a `ConcurrentSavepointError` (default 5000; 0 refuses at once). One connection's
   * savepoints are a stack: siblings run one after another, as they would wait for one connection.
   */
  readonly siblingWaitTimeout?: number
}

/** How long a sibling's savepoint waits for its turn by default, ms. */
export const DEFAULT_SIBLING_WAIT_TIMEOUT = 5_000

const MANAGER_OPTIONS: ReadonlySet<string> = new Set([
  ...[...COORDINATOR_OPTIONS].filter((name) => name !== 'decisionDatabases'),
  'explicit',
  'urlDrivers',
  'siblingWaitTimeout',
])

/**
 * Refuses options `createTransactionManager()` cannot honour (a misspelt name included) and
 * answers the coordinator's share of them.
 *
 * @throws ConfigurationError naming the option and what it takes.
 * @example
 * ```ts
 * const coordinatorOptions = checkManagerOptions({ decisionLog: orders, explicit: true })
 * ```
 */
export function checkManagerOptions(options: TransactionManagerOptions): CoordinatorOptions {
  if (options !== null && typeof options === 'object' && 'decisionDatabases' in options) {
    throw new ConfigurationError(
      "createTransactionManager() takes no decisionDatabases: its transactions are joined database by database, so each one's id (naming where its decision is kept) is made before its participants are known. Pass decisionLog; coordinators running transaction() over known databases can keep decisions in the participants.",
    )
  }
  checkOptionNames(options, MANAGER_OPTIONS, 'createTransactionManager()')
  // The manager's own options stay here: the coordinator refuses names it does not know.
  const { explicit: _explicit, urlDrivers, siblingWaitTimeout, ...coordinatorOptions } = options
  if (
    siblingWaitTimeout !== undefined &&
    (typeof siblingWaitTimeout !== 'number' ||
      !Number.isFinite(siblingWaitTimeout) ||
      siblingWaitTimeout < 0)
  ) {
    throw new ConfigurationError(
      `siblingWaitTimeout is a number of milliseconds, 0 or more (0 refuses a sibling's savepoint at once), not ${JSON.stringify(siblingWaitTimeout)}.`,
    )
  }
  if (urlDrivers !== undefined && !Array.isArray(urlDrivers)) {
    throw new ConfigurationError(
      "urlDrivers is an array of URL drivers: the `…Urls` export of each driver's entry point (`txkit/<driver>`).",
    )
  }
  return coordinatorOptions
}
