/** Latencies in ms, summarised. */
export interface LatencySummary {
  readonly transactions: number
  readonly perSecond: number
  readonly p50: number
  readonly p99: number
}

export function summarise(latencies: number[], seconds: number): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0
  return {
    transactions: sorted.length,
    perSecond: sorted.length / seconds,
    p50: at(0.5),
    p99: at(0.99),
  }
}

/** Runs `once` from `concurrency` loops for `seconds` (after `warmup` seconds), timing each call. */
export async function measure(
  once: () => Promise<void>,
  options: { seconds: number; warmup: number; concurrency: number },
): Promise<LatencySummary> {
  const warmupEnd = performance.now() + options.warmup * 1000
  const end = warmupEnd + options.seconds * 1000
  const latencies: number[] = []
  const loop = async () => {
    for (;;) {
      const start = performance.now()
      if (start >= end) return
      await once()
      if (start >= warmupEnd) latencies.push(performance.now() - start)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, loop))
  return summarise(latencies, options.seconds)
}

export function ratio(a: number, b: number): number {
  return Math.round((a / b) * 1000) / 1000
}
