/** Reads `.code` from an error, or from any error in its `.cause` chain. */
export function findErrorProperty(
  error: unknown,
  property: 'code' | 'errno' | 'number',
): string | number | undefined {
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
    const value = (current as Record<string, unknown>)[property]
    if (typeof value === 'string' || typeof value === 'number') {
      return value
    }
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/** Socket-level failures Node reports the same way for every driver. */
export const SOCKET_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTCONN',
])

/** The SQLSTATE of a PostgreSQL error (driver errors carry it as `.code`), through `.cause`. */
export function sqlState(error: unknown): string | undefined {
  const code = findErrorProperty(error, 'code')
  return typeof code === 'string' ? code : undefined
}

/** The server error number of a MySQL/MariaDB error (`.errno`), through `.cause`. */
export function errno(error: unknown): number | undefined {
  const value = findErrorProperty(error, 'errno')
  return typeof value === 'number' ? value : undefined
}
