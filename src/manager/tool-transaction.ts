import type { Database } from '../database/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'
import type { ManagedTransaction } from './managed-transaction.js'
import { runningAfterHook } from './transaction-hooks.js'
import type { TransactionManager } from './transaction-manager.js'

/** What an integration of a query builder or ORM is configured with. */
export interface ToolBinding {
  /** The tool, for messages (`Kysely`, `Drizzle` …). */
  readonly tool: string
  readonly database: Database
  readonly manager: TransactionManager
  readonly explicit?: boolean | undefined
}

/**
 * The manager's transaction a tool's query joins: the current one while it is active or
 * committing (before-commit hooks still write in it); undefined outside one, where the tool uses
 * its own pool, unless `explicit` asks for a `TransactionStateError` instead.
 *
 * @example
 * ```ts
 * const transaction = toolTransaction({ tool: 'Knex', database: orders, manager })
 * ```
 */
export function toolTransaction(binding: ToolBinding): ManagedTransaction | undefined {
  const transaction = binding.manager.current()
  if (transaction === undefined) return pool(binding)
  const { status } = transaction
  if (status === 'active' || status === 'committing') return transaction
  if (transaction.endsWithRun && !runningAfterHook()) {
    // Sent to the pool it would commit on its own, after its transaction was told otherwise.
    throw new TransactionStateError(
      `${binding.tool} over "${binding.database.name}": the txkit transaction of this query has ended (${status}), so it is not sent. ` +
        'A flow of manager.run(work) outlived work: a promise not awaited, or a Promise.all sibling still running after another rejected. Await every flow inside work (Promise.allSettled waits for all).',
    )
  }
  return pool(binding)
}

/** Outside a transaction the tool uses its pool, unless `explicit` refuses. */
function pool(binding: ToolBinding): undefined {
  if (binding.explicit === true) {
    throw new TransactionStateError(
      `${binding.tool} over "${binding.database.name}" runs only inside a txkit transaction (explicit: true): wrap the work in manager.run(...).`,
    )
  }
  return undefined
}

/**
 * Refuses an integration's options without one of `required`, naming the call that was meant.
 *
 * @example
 * ```ts
 * requireOptions(options, ['database', 'manager'], 'txkitKnex(knex(config), { database, manager })')
 * ```
 */
export function requireOptions(
  options: Readonly<Record<string, unknown>> | undefined,
  required: readonly string[],
  usage: string,
): void {
  for (const name of required) {
    if (options?.[name] === undefined || options[name] === null) {
      throw new ConfigurationError(`${usage.replace(/\(.*$/, '()')} needs ${name}: ${usage}.`)
    }
  }
}
