/** One sample of a metric: its label set (`{database="a"}`, or '' for none) and its value. */
export type Sample = readonly [labels: string, value: number]

/**
 * Metrics in Prometheus' text exposition format, one family at a time.
 *
 * @example
 * ```ts
 * const text = new PrometheusText()
 * text.metric('txkit_outbox_pending', 'gauge', 'Pending messages.', [[labelSet({ database: 'a' }), 3]])
 * text.toString() // '# HELP txkit_outbox_pending Pending messages.\n# TYPE … gauge\ntxkit_outbox_pending{database="a"} 3\n'
 * ```
 */
export class PrometheusText {
  readonly #lines: string[] = []

  metric(name: string, type: 'gauge' | 'counter', help: string, samples: readonly Sample[]): void {
    this.#lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) this.#lines.push(`${name}${labels} ${value}`)
  }

  toString(): string {
    return `${this.#lines.join('\n')}\n`
  }
}

/**
 * A label set, its values made safe for the format (quotes, backslashes and line breaks replaced).
 *
 * @example
 * ```ts
 * labelSet({ database: 'orders', code: 'x' }) // '{database="orders",code="x"}'
 * ```
 */
export function labelSet(pairs: Readonly<Record<string, string>>): string {
  return `{${Object.entries(pairs)
    .map(([key, value]) => `${key}="${value.replace(/["\\\n]/g, '_')}"`)
    .join(',')}}`
}
