import { checkDeployment, type DeploymentCheck } from '../../preflight/check-deployment.js'
import type { RecoverOptions } from '../../recovery/recover.js'
import { errorMessage } from '../../util/error-message.js'
import type { Logger } from '../../util/logger.js'
import type { RecoveryMetrics } from '../metrics.js'

/** The watch's preflight: findings exported as metrics, each new one logged once. */
export class WatchPreflight {
  readonly #options: RecoverOptions
  readonly #metrics: RecoveryMetrics
  readonly #logger: Logger
  #logged = new Set<string>()

  constructor(options: RecoverOptions, metrics: RecoveryMetrics, logger: Logger) {
    this.#options = options
    this.#metrics = metrics
    this.#logger = logger
  }

  async run(): Promise<void> {
    let check: DeploymentCheck
    try {
      check = await checkDeployment({
        databases: this.#options.databases,
        ...(this.#options.decisionLog !== undefined && { decisionLog: this.#options.decisionLog }),
        ...(this.#options.decisionDatabases !== undefined && {
          decisionDatabases: this.#options.decisionDatabases,
        }),
        ...(this.#options.prefix !== undefined && { prefix: this.#options.prefix }),
      })
    } catch (error) {
      this.#logger.warn({ error: errorMessage(error) }, 'txkit watch: the preflight could not run')
      return
    }
    this.#metrics.recordPreflight(check)
    const seen = new Set<string>()
    for (const finding of check.findings) {
      const key = `${finding.database}:${finding.code}`
      seen.add(key)
      if (this.#logged.has(key)) continue
      const log = finding.severity === 'error' ? this.#logger.error : this.#logger.warn
      log.call(
        this.#logger,
        { database: finding.database, code: finding.code },
        `txkit watch: preflight: ${finding.message} Fix: ${finding.fix}`,
      )
    }
    this.#logged = seen
  }
}
