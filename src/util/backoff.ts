/**
 * Capped exponential backoff with full jitter (AWS's "full jitter"): a delay drawn uniformly from
 * 0 to min(maxDelay, initialDelay × 2^(retry − 1)), for the `retry`-th retry (1, 2 …).
 */
export function backoffDelay(retry: number, initialDelay: number, maxDelay: number): number {
  return Math.random() * Math.min(maxDelay, initialDelay * 2 ** (retry - 1))
}
