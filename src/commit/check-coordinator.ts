import type { Database } from '../database/database.js'
import {
  type CheckDeploymentOptions,
  checkDeployment,
  type DeploymentCheck,
} from '../preflight/check-deployment.js'
import { checkOptionNames } from '../util/check-option-names.js'
import type { CoordinatorSettings } from './coordinator-settings.js'

// biome-ignore lint/suspicious/noExplicitAny: any driver's connection type
type AnyDatabase = Database<any>

const CHECK_OPTIONS: ReadonlySet<string> = new Set(['concurrency', 'maxClockSkew', 'timeout'])

/**
 * `coordinator.check()`: the preflight of `databases` against a coordinator's decision logs and
 * fence table, each finding logged through its logger.
 *
 * @example
 * ```ts
 * const check = await checkCoordinator(settings, { orders, ledger }, { concurrency: 50 })
 * ```
 */
export async function checkCoordinator(
  settings: CoordinatorSettings,
  databases: Readonly<Record<string, AnyDatabase>> | readonly AnyDatabase[],
  options: Pick<CheckDeploymentOptions, 'concurrency' | 'maxClockSkew' | 'timeout'>,
): Promise<DeploymentCheck> {
  checkOptionNames(options, CHECK_OPTIONS, 'coordinator.check()')
  const { decisionLog, decisionDatabases, fences, logger } = settings
  const result = await checkDeployment({
    ...options,
    databases,
    ...(decisionLog !== undefined && {
      decisionLog: { database: decisionLog.database, table: decisionLog.tableText },
    }),
    ...(decisionDatabases.length > 0 && {
      decisionDatabases: decisionDatabases.map((log) => ({
        database: log.database,
        table: log.tableText,
      })),
    }),
    ...(fences !== undefined && { fenceTable: fences.tableText }),
    prefix: settings.prefix,
  })
  for (const finding of result.findings) {
    const fields = { database: finding.database, code: finding.code, fix: finding.fix }
    if (finding.severity === 'error') logger.error(fields, `txkit: ${finding.message}`)
    else logger.warn(fields, `txkit: ${finding.message}`)
  }
  return result
}
