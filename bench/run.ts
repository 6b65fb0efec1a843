/**
 * `npm run bench [-- --seconds 3 --latency-ms 1 --recovery-scale 100000 --only commit|participants|recovery|locks|runner|outbox] [--quick]`: every benchmark, side by side in
 * one run, on throwaway servers. Results go to bench/results/*.json; compare ratios, not absolute
 * times, on a shared machine.
 */
import { mkdirSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { runCommitBench } from './commit-bench.js'
import { runLockBench } from './lock-bench.js'
import { runOutboxBench } from './outbox-bench.js'
import { runParticipantBench } from './participant-bench.js'
import { runRecoveryBench, runRecoveryScaleBench } from './recovery-bench.js'
import { runRunnerBench } from './runner-bench.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '0.5' },
    'latency-ms': { type: 'string', default: '1' },
    'heap-transactions': { type: 'string', default: '10000' },
    'recovery-transactions': { type: 'string', default: '10000' },
    'recovery-scale': { type: 'string', default: '100000' },
    contenders: { type: 'string', default: '8' },
    only: { type: 'string' },
    /** Small sizes for the outbox benchmark (a few minutes). */
    quick: { type: 'boolean', default: false },
    'outbox-rounds': { type: 'string' },
    'outbox-backlog': { type: 'string' },
    /** Which outbox measurements, e.g. `1,2` (default all four). */
    'outbox-keys': { type: 'string' },
  },
})

mkdirSync('bench/results', { recursive: true })
if (values.only === undefined || values.only === 'commit') {
  await runCommitBench({
    seconds: Number(values.seconds),
    warmup: Number(values.warmup),
    latencyMs: Number(values['latency-ms']),
    heapTransactions: Number(values['heap-transactions']),
    output: 'bench/results/commit.json',
  })
}
if (values.only === undefined || values.only === 'commit' || values.only === 'participants') {
  await runParticipantBench({
    seconds: Number(values.seconds),
    warmup: Number(values.warmup),
    latencyMs: Number(values['latency-ms']),
    output: 'bench/results/commit.json',
  })
}
if (values.only === undefined || values.only === 'recovery') {
  await runRecoveryBench({
    transactions: Number(values['recovery-transactions']),
    concurrency: 8,
    output: 'bench/results/recovery.json',
  })
  await runRecoveryScaleBench({
    transactions: Number(values['recovery-scale']),
    databases: 10,
    concurrency: 8,
    output: 'bench/results/recovery.json',
  })
}
if (values.only === undefined || values.only === 'locks') {
  await runLockBench({
    seconds: Number(values.seconds),
    warmup: Number(values.warmup),
    contenders: Number(values.contenders),
    output: 'bench/results/locks.json',
  })
}
if (values.only === undefined || values.only === 'runner') {
  await runRunnerBench({ seconds: Number(values.seconds), output: 'bench/results/runner.json' })
}
if (values.only === undefined || values.only === 'outbox') {
  const quick = values.quick === true
  await runOutboxBench({
    rounds: Number(values['outbox-rounds'] ?? 5),
    seconds: quick ? 1.5 : Number(values.seconds),
    latencyTransactions: quick ? 30 : 100,
    rabbitMessages: quick ? 3000 : 20_000,
    backlog: Number(values['outbox-backlog'] ?? (quick ? 20_000 : 100_000)),
    ...(values['outbox-keys'] !== undefined && {
      keys: values['outbox-keys'].split(',').map(Number),
    }),
    output: 'bench/results/outbox.json',
  })
}
