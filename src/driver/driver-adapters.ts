import type { DriverAdapter } from './driver-adapter.js'

/** The drivers known to the tool integrations: those whose adapter module has loaded. */
const registered: DriverAdapter[] = []

/**
 * Makes a driver known to the tool integrations; each driver's adapter module registers itself
 * when loaded (so once its database factory is imported). Registering one twice does nothing.
 *
 * @example
 * ```ts
 * registerDriverAdapter(nodePostgresAdapter)
 * ```
 */
export function registerDriverAdapter(adapter: DriverAdapter): void {
  if (!registered.includes(adapter)) registered.push(adapter)
}

/** The drivers registered so far, in the order they were. */
export function driverAdapters(): readonly DriverAdapter[] {
  return registered
}

/**
 * The driver a tool selects with `dialect`, the value of its own option (Knex's client dialect,
 * TypeORM's `type`); undefined when no registered driver answers to it.
 *
 * @example
 * ```ts
 * const adapter = adapterForToolDialect('Knex', knex.client.dialect)
 * ```
 */
export function adapterForToolDialect(tool: string, dialect: string): DriverAdapter | undefined {
  return registered.find((adapter) => adapter.tools[tool]?.dialects?.includes(dialect) === true)
}
