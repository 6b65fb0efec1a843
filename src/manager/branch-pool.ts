import type { Database } from '../database/database.js'
import type { DriverAdapter, PoolAdapter } from '../driver/driver-adapter.js'
import { driverAdapters } from '../driver/driver-adapters.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { overriding } from '../util/overriding.js'
import type { ManagedTransaction } from './managed-transaction.js'
import { sendInTurn } from './savepoint-scopes.js'
import { SavepointStatements } from './savepoint-statements.js'
import { type ToolBinding, toolTransaction } from './tool-transaction.js'

type Callable = (...args: unknown[]) => unknown
type Members = Record<string, unknown>

/** The registered driver whose adapter recognises `pool` as one of its pools. */
function poolDriverOf(pool: object): PoolDriver | undefined {
  for (const adapter of driverAdapters()) {
    if (adapter.pool?.isPool(pool) === true) return { adapter, pool: adapter.pool }
  }
  return undefined
}

/** A driver whose pools a tool can be given, with what its adapter says of them. */
interface PoolDriver {
  readonly adapter: DriverAdapter
  readonly pool: PoolAdapter
}

/** The SQL text of a statement as a tool hands it to the driver. */
function textOf(first: unknown): string | undefined {
  if (typeof first === 'string') return first
  const config = first as { text?: unknown; sql?: unknown } | null
  if (typeof config?.text === 'string') return config.text
  if (typeof config?.sql === 'string') return config.sql
  return undefined
}

/**
 * The session a tool checks out of the pool for its own transaction inside a txkit transaction:
 * its statements run on the branch; its BEGIN, COMMIT, ROLLBACK and savepoints become savepoints
 * of the txkit transaction; giving it back does nothing (the session is the transaction's).
 */
class SavepointSession {
  readonly #branch: Members
  readonly #statements: SavepointStatements
  readonly #driver: PoolAdapter

  readonly #reported: <T>(work: Promise<T>) => Promise<T>

  constructor(
    branch: Members,
    transaction: ManagedTransaction,
    binding: BranchPoolBinding,
    driver: PoolAdapter,
  ) {
    this.#branch = branch
    this.#statements = new SavepointStatements(transaction, binding.tool)
    this.#driver = driver
    this.#reported = reporting(binding)
  }

  readonly query = (...args: unknown[]): Promise<unknown> =>
    this.#reported(this.#run('query', args))
  readonly execute = (...args: unknown[]): Promise<unknown> =>
    this.#reported(this.#run('execute', args))

  release(): void {}
  end(): void {}
  /** Errors of the branch's connection reach the txkit transaction, which owns it. */
  on(): this {
    return this
  }
  off(): this {
    return this
  }
  removeListener(): this {
    return this
  }

  async #run(method: 'query' | 'execute', args: unknown[]): Promise<unknown> {
    const text = textOf(args[0])
    if (text !== undefined && (await this.#statements.handle(text))) {
      return this.#driver.nothingDone()
    }
    return sendInTurn(this.#statements.beforeStatement(text), () =>
      (this.#branch[method] as Callable).apply(this.#branch, args),
    )
  }
}

/** What {@link branchPool} is given. */
export interface BranchPoolBinding extends ToolBinding {
  /** The pool the tool would be given. */
  readonly pool: object
  /** Told of every error a query or a checkout on the branch fails with, before it reaches the tool. */
  readonly onError?: (error: unknown) => void
  /** Called before a query on the pool runs on a branch; may refuse it by throwing. */
  readonly beforeBranchQuery?: () => void
}

/**
 * `pool` as a Proxy (same prototype, so the tool still takes it for its pool) whose queries run
 * on the current txkit transaction's branch for the database (joined on first use), and whose
 * checked-out sessions turn the tool's own transactions into savepoints of it; outside a txkit
 * transaction, the pool unchanged. For tools that talk to the driver's pool directly (Drizzle,
 * Prisma's driver adapters).
 *
 * The drivers a tool uses are those whose adapter names the tool (`DriverAdapter.tools`).
 *
 * @throws ConfigurationError when the pool's driver is not one the tool uses, or the database's
 *   branches are not that driver's connections.
 * @example
 * ```ts
 * const routed = branchPool({ tool: 'Drizzle', pool, database, manager })
 * ```
 */
export function branchPool<Pool extends object>(binding: BranchPoolBinding & { pool: Pool }): Pool {
  const { pool, database, tool } = binding
  const driver = poolDriverOf(pool)
  const toolDriver = driver?.adapter.tools[tool]?.label
  if (driver === undefined || toolDriver === undefined) {
    const labels = driverAdapters().flatMap((adapter) =>
      adapter.pool === undefined ? [] : (adapter.tools[tool]?.label ?? []),
    )
    throw new ConfigurationError(
      `${tool} is given the pool of ${labels.join(' or ')}; this is not one (${describe(pool)}).`,
    )
  }
  const branchSession = async (transaction: ManagedTransaction): Promise<Members> => {
    const branch = await transaction.join(database.name, database as Database)
    const raw = branch.connection
    if (!driver.pool.isConnection(raw)) {
      throw new ConfigurationError(
        `${toolDriver} needs "${database.name}" to be a ${driver.adapter.databaseFactory} (${driver.adapter.entry}) whose branches hand out the driver's connection.`,
      )
    }
    return raw as Members
  }
  const reported = reporting(binding)
  const run =
    (method: string) =>
    (...args: unknown[]): Promise<unknown> =>
      reported(
        (async () => {
          const transaction = toolTransaction(binding)
          if (transaction === undefined)
            return ((pool as Members)[method] as Callable).apply(pool, args)
          binding.beforeBranchQuery?.()
          const target = await branchSession(transaction)
          // The pool's own query: from no session of the tool's, so never inside its transaction.
          return sendInTurn(transaction.scopes.beforeStatement(undefined, textOf(args[0])), () =>
            (target[method] as Callable).apply(target, args),
          )
        })(),
      )
  const { checkout: checkoutMethod, statements } = driver.pool
  const checkout = (...args: unknown[]): Promise<unknown> =>
    reported(
      (async () => {
        const transaction = toolTransaction(binding)
        if (transaction === undefined) {
          return ((pool as Members)[checkoutMethod] as Callable).apply(pool, args)
        }
        const session = await branchSession(transaction)
        return new SavepointSession(session, transaction, binding, driver.pool)
      })(),
    )
  return overriding(pool, {
    ...Object.fromEntries(statements.map((method) => [method, run(method)])),
    [checkoutMethod]: checkout,
  })
}

/** Passes a failure to the binding's `onError` on its way to the tool. */
function reporting(binding: BranchPoolBinding): <T>(work: Promise<T>) => Promise<T> {
  const { onError } = binding
  if (onError === undefined) return (work) => work
  return (work) =>
    work.catch((error: unknown) => {
      onError(error)
      throw error
    })
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value)
  return `a ${value.constructor?.name ?? 'plain object'}`
}
