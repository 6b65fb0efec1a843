import type { Database } from '../driver/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { overriding } from '../util/overriding.js'
import type { ManagedTransaction } from './managed-transaction.js'
import { sendInTurn } from './savepoint-scopes.js'
import { SavepointStatements } from './savepoint-statements.js'
import { type ToolBinding, toolTransaction } from './tool-transaction.js'

/** The drivers whose pools a tool can be handed in place of the real one. */
export type PoolDriver = 'node-postgres' | 'mysql2' | 'mariadb'

type Callable = (...args: unknown[]) => unknown
type Members = Record<string, unknown>

const DATABASE_OF: Readonly<Record<PoolDriver, string>> = {
  'node-postgres': 'pgDatabase (txkit/node-postgres)',
  mysql2: 'mysqlDatabase (txkit/mysql2)',
  mariadb: 'mariadbDatabase (txkit/mariadb)',
}

/**
 * Which driver made a pool, by the members a tool uses: the mariadb connector's pools and
 * connections have `batch`, mysql2's promise pools `getConnection` and its connections `execute`;
 * node-postgres has neither. A postgres.js `sql` has no `query` at all.
 */
function driverOf(object: unknown, kind: 'pool' | 'connection'): PoolDriver | undefined {
  const members = object as Members | null | undefined
  if (members === null || members === undefined) return undefined
  if (typeof members.batch === 'function') return 'mariadb'
  if (typeof members[kind === 'pool' ? 'getConnection' : 'execute'] === 'function') return 'mysql2'
  return typeof members.query === 'function' ? 'node-postgres' : undefined
}

/** What the driver answers for a statement that changed nothing. */
function nothingDone(driver: PoolDriver): unknown {
  switch (driver) {
    case 'node-postgres':
      return { command: '', rowCount: 0, rows: [], fields: [] }
    case 'mysql2':
      return [{ affectedRows: 0, insertId: 0, warningStatus: 0 }, undefined]
    case 'mariadb':
      return { affectedRows: 0, insertId: 0n, warningStatus: 0 }
  }
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
  readonly #driver: PoolDriver

  readonly #reported: <T>(work: Promise<T>) => Promise<T>

  constructor(
    branch: Members,
    transaction: ManagedTransaction,
    binding: BranchPoolBinding,
    driver: PoolDriver,
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
      return nothingDone(this.#driver)
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
  /** The drivers the tool can use, in the tool's terms for messages (`Drizzle's node-postgres driver`). */
  readonly drivers: Readonly<Partial<Record<PoolDriver, string>>>
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
 * @throws ConfigurationError when the pool's driver is not one the tool uses, or the database's
 *   branches are not that driver's connections.
 * @example
 * ```ts
 * const routed = branchPool({ tool: 'Drizzle', pool, database, manager,
 *   drivers: { 'node-postgres': "Drizzle's node-postgres driver" } })
 * ```
 */
export function branchPool<Pool extends object>(binding: BranchPoolBinding & { pool: Pool }): Pool {
  const { pool, database, tool, drivers } = binding
  const driver = driverOf(pool, 'pool')
  const toolDriver = driver === undefined ? undefined : drivers[driver]
  if (driver === undefined || toolDriver === undefined) {
    throw new ConfigurationError(
      `${tool} is given the pool of ${Object.values(drivers).join(' or ')}; this is not one (${describe(pool)}).`,
    )
  }
  const branchSession = async (transaction: ManagedTransaction): Promise<Members> => {
    const branch = await transaction.join(database.name, database as Database)
    const raw = branch.connection
    if (driverOf(raw, 'connection') !== driver) {
      throw new ConfigurationError(
        `${toolDriver} needs "${database.name}" to be a ${DATABASE_OF[driver]} whose branches hand out the driver's connection.`,
      )
    }
    return raw as Members
  }
  const reported = reporting(binding)
  const run =
    (method: 'query' | 'execute') =>
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
  const checkoutMethod = driver === 'node-postgres' ? 'connect' : 'getConnection'
  const checkout = (...args: unknown[]): Promise<unknown> =>
    reported(
      (async () => {
        const transaction = toolTransaction(binding)
        if (transaction === undefined) {
          return ((pool as Members)[checkoutMethod] as Callable).apply(pool, args)
        }
        return new SavepointSession(await branchSession(transaction), transaction, binding, driver)
      })(),
    )
  return overriding(pool, {
    query: run('query'),
    [checkoutMethod]: checkout,
    ...(driver !== 'node-postgres' && { execute: run('execute') }),
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
