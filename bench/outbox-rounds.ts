/** Medians of alternating rounds, with their spread, for the outbox benchmarks. */

/** A figure measured over several rounds: its median, lowest, highest and every round's value. */
export interface Spread {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly runs: readonly number[]
}

const round3 = (value: number) => Math.round(value * 1000) / 1000

export function spreadOf(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? (sorted[middle] as number)
        : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2
  return {
    median: round3(median),
    min: round3(sorted[0] ?? Number.NaN),
    max: round3(sorted[sorted.length - 1] ?? Number.NaN),
    runs: values.map(round3),
  }
}

/** `median (min–max)`, for the log. */
export function showSpread(spread: Spread, digits = 3): string {
  return `${spread.median.toFixed(digits)} (${spread.min.toFixed(digits)}–${spread.max.toFixed(digits)})`
}

/**
 * Runs `rounds` rounds of the two variants back to back, swapping which goes first every round
 * (A B, B A, A B …), and returns each variant's figure per round and the ratio a / b per round.
 */
export async function alternate(
  rounds: number,
  a: (round: number) => Promise<number>,
  b: (round: number) => Promise<number>,
  log: (round: number, a: number, b: number) => void = () => {},
): Promise<{ a: Spread; b: Spread; ratio: Spread }> {
  const as: number[] = []
  const bs: number[] = []
  const ratios: number[] = []
  for (let round = 0; round < rounds; round++) {
    let valueA: number
    let valueB: number
    if (round % 2 === 0) {
      valueA = await a(round)
      valueB = await b(round)
    } else {
      valueB = await b(round)
      valueA = await a(round)
    }
    as.push(valueA)
    bs.push(valueB)
    ratios.push(valueA / valueB)
    log(round, valueA, valueB)
  }
  return { a: spreadOf(as), b: spreadOf(bs), ratio: spreadOf(ratios) }
}

/** The `q` quantile (0–1) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
