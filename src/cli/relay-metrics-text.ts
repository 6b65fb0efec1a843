import type { RelayMetrics } from '../relay/relay-metrics.js'
import { labelSet, PrometheusText } from './prometheus-text.js'

/**
 * A relay's metrics in Prometheus' text format, as `txkit relay --metrics-port` serves them.
 *
 * @example
 * ```ts
 * relayMetricsText(relay.metrics) // '# HELP txkit_outbox_pending …\ntxkit_outbox_pending{database="orders"} 0\n…'
 * ```
 */
export function relayMetricsText(metrics: RelayMetrics): string {
  const text = new PrometheusText()
  const perDatabase = (read: (each: RelayMetrics['databases'][number]) => number) =>
    metrics.databases.map((each) => [labelSet({ database: each.name }), read(each)] as const)
  text.metric(
    'txkit_outbox_pending',
    'gauge',
    'Committed messages not yet published, by database, at the last count (every few seconds).',
    perDatabase((each) => each.pending),
  )
  text.metric(
    'txkit_outbox_oldest_pending_age_seconds',
    'gauge',
    'Age of the oldest pending message, by database and its clock: alert when it grows (the relay lags or a key is held back).',
    perDatabase((each) => each.oldestPendingAgeMs / 1000),
  )
  const counter = (name: string, help: string, value: number) =>
    text.metric(name, 'counter', help, [['', value]])
  counter('txkit_outbox_published_total', 'Messages published.', metrics.published)
  counter(
    'txkit_outbox_failed_total',
    'Failed tries to publish (each retried later, or dead-lettered after the last).',
    metrics.failed,
  )
  counter(
    'txkit_outbox_dead_lettered_total',
    'Messages moved to the dead state: a person must replay or drop them (txkit outbox list --state dead).',
    metrics.deadLettered,
  )
  text.metric(
    'txkit_outbox_relay_lag_seconds',
    'gauge',
    'Commit-to-publish lag of the last message published (0 before the first).',
    [['', (metrics.lastLagMs ?? 0) / 1000]],
  )
  counter('txkit_outbox_batches_total', 'Batches run.', metrics.batches)
  counter(
    'txkit_outbox_failed_passes_total',
    'Passes that failed on a database or broker error (each logged).',
    metrics.failedPasses,
  )
  counter(
    'txkit_outbox_notifications_total',
    'Commit notifications heard (PostgreSQL).',
    metrics.notifications,
  )
  text.metric(
    'txkit_outbox_listening',
    'gauge',
    'Databases whose commit notifications the relay hears now (the others are polled).',
    [['', metrics.listening]],
  )
  return text.toString()
}
