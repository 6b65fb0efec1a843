import { createServer, type Server } from 'node:http'
import type { RecoveryReport } from '../recovery/recovery-report.js'

/** The worker's Prometheus metrics, in the text exposition format. */
export class RecoveryMetrics {
  #prepared = new Map<string, number>()
  #oldestAgeSeconds = 0
  #actions = new Map<string, number>()
  #failures = 0
  #rounds = 0
  #lastRoundSeconds = 0
  #lastRoundDurationSeconds = 0

  record(report: RecoveryReport): void {
    this.#rounds++
    this.#lastRoundSeconds = Date.parse(report.startedAt) / 1000 + report.durationMs / 1000
    this.#lastRoundDurationSeconds = report.durationMs / 1000
    this.#prepared = new Map(report.databases.map((database) => [database.name, database.ours]))
    const ages = report.transactions.flatMap((transaction) =>
      transaction.ageMs === undefined ? [] : [transaction.ageMs / 1000],
    )
    this.#oldestAgeSeconds = ages.length === 0 ? 0 : Math.max(...ages)
    for (const transaction of report.transactions) {
      const action =
        transaction.action === 'left' ? `left:${transaction.left ?? ''}` : transaction.action
      this.#actions.set(action, (this.#actions.get(action) ?? 0) + 1)
    }
    this.#failures += report.counts.failed
  }

  render(): string {
    const lines: string[] = []
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`)
    }
    const label = (key: string, value: string) => `{${key}="${value.replace(/["\\\n]/g, '_')}"}`
    metric(
      'txkit_prepared_transactions',
      'gauge',
      'Prepared transactions of ours seen in the last scan, by database (server-wide lists count on the first database of a server).',
      [...this.#prepared].map(([database, count]) => [label('database', database), count]),
    )
    metric(
      'txkit_oldest_prepared_age_seconds',
      'gauge',
      'Age of the oldest in-doubt transaction in the last round.',
      [['', this.#oldestAgeSeconds]],
    )
    metric(
      'txkit_recovery_decisions_total',
      'counter',
      'Transactions handled, by action (committed, rolled-back, left:<reason>, failed).',
      [...this.#actions].map(([action, count]) => [label('action', action), count]),
    )
    metric(
      'txkit_recovery_failures_total',
      'counter',
      'Transactions or databases that failed in a round.',
      [['', this.#failures]],
    )
    metric('txkit_recovery_rounds_total', 'counter', 'Recovery rounds run.', [['', this.#rounds]])
    metric('txkit_recovery_last_round_timestamp_seconds', 'gauge', 'When the last round ended.', [
      ['', this.#lastRoundSeconds],
    ])
    metric('txkit_recovery_last_round_duration_seconds', 'gauge', 'How long the last round took.', [
      ['', this.#lastRoundDurationSeconds],
    ])
    return `${lines.join('\n')}\n`
  }

  /** Serves /metrics and /healthz on 127.0.0.1:`port` (or `host`). */
  serve(port: number, host = '127.0.0.1'): Promise<Server> {
    const server = createServer((request, response) => {
      if (request.url === '/metrics') {
        response.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
        response.end(this.render())
      } else if (request.url === '/healthz') {
        response.writeHead(200, { 'content-type': 'text/plain' })
        response.end('ok\n')
      } else {
        response.writeHead(404)
        response.end()
      }
    })
    return new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => resolve(server))
    })
  }
}
