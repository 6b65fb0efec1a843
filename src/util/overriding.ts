/**
 * `target` as a Proxy (same prototype, so `instanceof` and class-name checks still hold) whose
 * listed members are replaced; its other functions are bound to the target itself.
 *
 * @example
 * ```ts
 * const quiet = overriding(pool, { query: async () => ({ rows: [] }) })
 * ```
 */
export function overriding<Target extends object>(
  target: Target,
  members: Readonly<Record<string, unknown>>,
): Target {
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === 'string' && property in members) return members[property]
      const value = Reflect.get(object, property, object)
      return typeof value === 'function' ? value.bind(object) : value
    },
  })
}
