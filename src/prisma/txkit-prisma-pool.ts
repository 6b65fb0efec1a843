import type { Database } from '../database/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { branchPool } from '../manager/branch-pool.js'
import { requireOptions } from '../manager/tool-transaction.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { inExtensionCall, noteError } from './prisma-call-scope.js'
import type { txkitPrismaExtension } from './txkit-prisma-extension.js'

export interface TxkitPrismaPoolOptions<Pool> {
  /**
   * The pool you would give Prisma's driver adapter: a node-postgres `Pool` for `PrismaPg`, a
   * mariadb connector pool for `PrismaMariaDb`.
   */
  readonly pool: Pool
  /** The txkit database of that pool (`pgDatabase(pool, …)` or `await mariadbDatabase(pool, …)`). */
  readonly database: Database
  /** The transaction manager whose current transaction queries join. */
  readonly manager: TransactionManager
  /** Outside a txkit transaction, refuse (a `TransactionStateError`) instead of using the pool. */
  readonly explicit?: boolean
}

const OPTIONS: ReadonlySet<string> = new Set(['pool', 'database', 'manager', 'explicit'])

/**
 * A pool to give Prisma's driver adapter (`new PrismaPg(…)`, `new PrismaMariaDb(…)`) in place of
 * yours: one application-wide `PrismaClient` per database, used as Prisma's docs show. Inside
 * `manager.run(...)` its queries run on the current txkit transaction's branch for the database
 * (joined on first use); `prisma.$transaction(...)` there, and the transactions Prisma opens by
 * itself (nested writes, MySQL's create), are savepoints of it: an inner failure undoes only the
 * inner work and the writes it recorded. An `isolationLevel` there is refused (a
 * `ConfigurationError`): the txkit transaction's own applies. Outside a transaction it is your
 * pool, unchanged (or a `TransactionStateError` with `explicit: true`). Extend the client with
 * {@link txkitPrismaExtension}: inside a transaction, queries of a client without it are refused
 * (a `ConfigurationError`), as Prisma could run one transaction's reads on another's connection.
 *
 * @throws ConfigurationError for a missing or unknown option, or a pool that is neither
 *   node-postgres's nor the mariadb connector's.
 * @example
 * ```ts
 * import { PrismaPg } from '@prisma/adapter-pg'
 * import pg from 'pg'
 * import { txkitPrismaExtension, txkitPrismaPool } from 'txkit/prisma'
 * import { pgDatabase } from 'txkit/node-postgres'
 * import { PrismaClient } from './generated/prisma/client.js'
 *
 * const pool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
 * const orders = pgDatabase(pool, { name: 'orders' })
 * const prisma = new PrismaClient({
 *   adapter: new PrismaPg(txkitPrismaPool({ pool, database: orders, manager })),
 * }).$extends(txkitPrismaExtension(manager))
 * ```
 */
export function txkitPrismaPool<Pool extends object>(options: TxkitPrismaPoolOptions<Pool>): Pool {
  checkOptionNames(options ?? {}, OPTIONS, 'txkitPrismaPool()')
  requireOptions(
    options as unknown as Record<string, unknown>,
    ['pool', 'database', 'manager'],
    'txkitPrismaPool({ pool, database: pgDatabase(pool, { name }), manager })',
  )
  return branchPool({
    tool: 'Prisma',
    ...options,
    onError: noteError,
    beforeBranchQuery: () => {
      if (!inExtensionCall()) {
        throw new ConfigurationError(
          `A Prisma client over "${options.database.name}" runs inside a txkit transaction only when extended with txkitPrismaExtension(manager): without it Prisma may run one transaction's findUnique on another's connection. Use new PrismaClient({ adapter }).$extends(txkitPrismaExtension(manager)).`,
        )
      }
    },
  })
}
