import type { Server } from 'node:http'
import type { DeploymentCheck } from '../preflight/check-deployment.js'
import { LEFT_REASONS, type RecoveryReport } from '../protocol/recovery-report.js'
import { serveMetrics } from './metrics-server.js'
import { labelSet, PrometheusText } from './prometheus-text.js'

/** How many intervals may pass without a good round before `/healthz` answers 503. */
const HEALTHY_INTERVALS = 3

/**
 * The worker's Prometheus metrics, in the text exposition format, and its health: `/healthz`
 * answers 200 while the last good round (or a round another worker took) is at most a few
 * intervals old, 503 otherwise.
 */
export class RecoveryMetrics {
  readonly #intervalMs: number
  readonly #startedAt = Date.now()
  #prepared = new Map<string, number>()
  #oldestAgeSeconds = 0
  /** Every known label starts at 0, so that rate() and alerts see a series before its first event. */
  readonly #actions = new Map<string, number>([
    ['committed', 0],
    ['rolled-back', 0],
    ['failed', 0],
    ...LEFT_REASONS.map((reason): [string, number] => [`left:${reason}`, 0]),
  ])
  /** The label each transaction still in doubt was last counted under: counted once, not per round. */
  #counted = new Map<string, string>()
  #failures = 0
  #rounds = 0
  #skipped = 0
  #lastRoundSeconds = 0
  #lastRoundDurationSeconds = 0
  #lastRoundSucceeded = false
  #lastGoodMs: number | undefined
  #preflight: DeploymentCheck | undefined

  constructor(intervalMs: number) {
    this.#intervalMs = intervalMs
  }

  /** A round that ran: its report. Good when nothing in it failed. */
  record(report: RecoveryReport): void {
    this.#rounds++
    this.#lastRoundSeconds = Date.parse(report.startedAt) / 1000 + report.durationMs / 1000
    this.#lastRoundDurationSeconds = report.durationMs / 1000
    this.#prepared = new Map(report.databases.map((database) => [database.name, database.ours]))
    const ages = report.transactions.flatMap((transaction) =>
      transaction.ageMs === undefined ? [] : [transaction.ageMs / 1000],
    )
    this.#oldestAgeSeconds = ages.length === 0 ? 0 : Math.max(...ages)
    const counted = new Map<string, string>()
    for (const transaction of report.transactions) {
      const action =
        transaction.action === 'left' ? `left:${transaction.left ?? ''}` : transaction.action
      // A transaction left round after round is one event, not one per round.
      if (action.startsWith('left:') && this.#counted.get(transaction.gtrid) === action) {
        counted.set(transaction.gtrid, action)
        continue
      }
      counted.set(transaction.gtrid, action)
      this.#actions.set(action, (this.#actions.get(action) ?? 0) + 1)
    }
    this.#counted = counted
    this.#failures += report.counts.failed
    this.#settle(report.counts.failed === 0)
  }

  /** What the last preflight found (`txkit check`'s findings), exported as gauges. */
  recordPreflight(check: DeploymentCheck): void {
    this.#preflight = check
  }

  /** A round that could not run (a database unreachable, a timeout): one failure. */
  recordFailure(): void {
    this.#rounds++
    this.#failures++
    this.#lastRoundSeconds = Date.now() / 1000
    this.#settle(false)
  }

  /** A round another worker took (it held the recovery lock): this worker is healthy. */
  recordSkipped(): void {
    this.#skipped++
    this.#lastGoodMs = Date.now()
  }

  #settle(succeeded: boolean): void {
    this.#lastRoundSucceeded = succeeded
    if (succeeded) this.#lastGoodMs = Date.now()
  }

  /** Whether the last good round is recent enough (or the worker is still in its first rounds). */
  get healthy(): boolean {
    const since = this.#lastGoodMs ?? this.#startedAt
    return Date.now() - since <= HEALTHY_INTERVALS * this.#intervalMs + 1000
  }

  render(): string {
    const text = new PrometheusText()
    const metric = text.metric.bind(text)
    const label = (key: string, value: string) => labelSet({ [key]: value })
    metric(
      'txkit_prepared_transactions',
      'gauge',
      'Prepared transactions of ours seen in the last scan, by database (server-wide lists count on the first database of a server).',
      [...this.#prepared].map(([database, count]) => [label('database', database), count]),
    )
    if (this.#preflight !== undefined) {
      const findings = this.#preflight.findings
      metric(
        'txkit_preflight_findings',
        'gauge',
        'Findings of the last preflight (txkit check), 1 per finding, by database, code and severity.',
        findings.map((finding) => [
          labelSet({ database: finding.database, code: finding.code, severity: finding.severity }),
          1,
        ]),
      )
      metric(
        'txkit_preflight_errors',
        'gauge',
        'Findings of severity error in the last preflight: alert when above 0.',
        [['', findings.filter((finding) => finding.severity === 'error').length]],
      )
    }
    metric(
      'txkit_oldest_prepared_age_seconds',
      'gauge',
      'Age of the oldest in-doubt transaction in the last round.',
      [['', this.#oldestAgeSeconds]],
    )
    metric(
      'txkit_recovery_decisions_total',
      'counter',
      'Transactions handled, by action (committed, rolled-back, failed, left:<reason>; a transaction left round after round counts once).',
      [...this.#actions].map(([action, count]) => [label('action', action), count]),
    )
    metric(
      'txkit_recovery_failures_total',
      'counter',
      'Failures: transactions or databases that failed in a round, and rounds that could not run.',
      [['', this.#failures]],
    )
    metric('txkit_recovery_rounds_total', 'counter', 'Recovery rounds run or attempted.', [
      ['', this.#rounds],
    ])
    metric(
      'txkit_recovery_rounds_skipped_total',
      'counter',
      'Rounds skipped because another worker held the recovery lock.',
      [['', this.#skipped]],
    )
    metric(
      'txkit_recovery_last_round_success',
      'gauge',
      '1 when the last round ran without a failure, else 0.',
      [['', this.#lastRoundSucceeded ? 1 : 0]],
    )
    metric(
      'txkit_recovery_last_success_timestamp_seconds',
      'gauge',
      'When the last round without a failure (or skipped for another worker) ended; 0 before one.',
      [['', this.#lastGoodMs === undefined ? 0 : this.#lastGoodMs / 1000]],
    )
    metric('txkit_recovery_last_round_timestamp_seconds', 'gauge', 'When the last round ended.', [
      ['', this.#lastRoundSeconds],
    ])
    metric('txkit_recovery_last_round_duration_seconds', 'gauge', 'How long the last round took.', [
      ['', this.#lastRoundDurationSeconds],
    ])
    return text.toString()
  }

  /** Serves /metrics and /healthz on 127.0.0.1:`port` (or `host`). */
  serve(port: number, host?: string): Promise<Server> {
    return serveMetrics(port, host, {
      metrics: () => this.render(),
      health: () => ({
        healthy: this.healthy,
        reason: 'no good recovery round for several intervals',
      }),
    })
  }
}
