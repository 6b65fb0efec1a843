/** Renders untrusted input for an error message: quoted, escaped and shortened. */
export function describeValue(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint') return String(value)
  if (typeof value !== 'string') {
    return value === null ? 'null' : typeof value
  }
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value
  return JSON.stringify(shown)
}
