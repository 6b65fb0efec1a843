import { readdirSync, readFileSync } from 'node:fs'

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

/**
 * CPU seconds (user + system) used so far by every descendant of this process (the throwaway
 * database servers and their backends), from /proc; 0 where there is no /proc.
 */
export function descendantsCpuSeconds(): number {
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))
  } catch {
    return 0
  }
  const processes: Array<{ pid: number; ppid: number; ticks: number }> = []
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      processes.push({
        pid: Number(entry),
        ppid: Number(fields[1]),
        ticks: Number(fields[11]) + Number(fields[12]),
      })
    } catch {
      // Gone meanwhile.
    }
  }
  const ours = new Set([process.pid])
  for (let grew = true; grew; ) {
    grew = false
    for (const each of processes) {
      if (!ours.has(each.pid) && ours.has(each.ppid)) {
        ours.add(each.pid)
        grew = true
      }
    }
  }
  ours.delete(process.pid)
  // Linux reports clock ticks of 1/100 s (USER_HZ) in /proc/<pid>/stat.
  return processes.reduce((sum, each) => sum + (ours.has(each.pid) ? each.ticks : 0), 0) / 100
}

export function ratio(a: number, b: number): number {
  return Math.round((a / b) * 1000) / 1000
}
