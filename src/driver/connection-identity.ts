/** The parts of a connection target that tell two databases apart. Never a password. */
export interface ConnectionTarget {
  readonly host?: string | undefined
  readonly port?: number | string | undefined
  readonly database?: string | undefined
  readonly user?: string | undefined
}

/**
 * The identity role of a driver: `scheme://user@host:port/database` of a pool, read from its
 * settings (never its password), or one unique to the pool object when they cannot be read.
 */
export type PoolIdentity<Pool extends object> = (pool: Pool) => string

/**
 * Renders a connection target as `scheme://user@host:port/database`, the identity by which two
 * handles are recognised as one database. Passwords are never part of it.
 *
 * @example
 * ```ts
 * connectionIdentity('postgres', { host: 'db1', port: 5432, database: 'orders', user: 'app' })
 * // 'postgres://app@db1:5432/orders'
 * ```
 */
export function connectionIdentity(scheme: string, target: ConnectionTarget): string {
  const user = target.user === undefined ? '' : `${encodeURIComponent(target.user)}@`
  return `${scheme}://${user}${target.host ?? 'localhost'}:${target.port ?? ''}/${target.database ?? ''}`
}

/** Reads the target out of a connection URL, dropping the password. */
export function targetFromUrl(url: string): ConnectionTarget {
  try {
    const parsed = new URL(url)
    return {
      host: parsed.hostname || undefined,
      port: parsed.port || undefined,
      database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || undefined,
      user: decodeURIComponent(parsed.username) || undefined,
    }
  } catch {
    return {}
  }
}

let anonymousPools = 0
const anonymousIdentities = new WeakMap<object, string>()

/** An identity for a pool whose target cannot be read: unique to that pool object. */
export function poolObjectIdentity(scheme: string, pool: object): string {
  let identity = anonymousIdentities.get(pool)
  if (identity === undefined) {
    identity = `${scheme}://pool-${++anonymousPools}`
    anonymousIdentities.set(pool, identity)
  }
  return identity
}
