import { assertDatabase } from '../database/assert-database.js'
import type { Database } from '../database/database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { BranchHandle } from '../protocol/branch.js'
import { MAX_BRANCHES } from '../xid/xid.js'

// biome-ignore lint/suspicious/noExplicitAny: any driver's connection type
type AnyDatabase = Database<any>

/** Refuses, at compile time, a set of databases with none in it (`{}`). */
export type AtLeastOne<Databases> = keyof Databases extends never
  ? { readonly 'a transaction needs at least one database': never }
  : unknown

/** The branch handles the transaction callback receives, one per name. */
export type BranchesOf<Databases extends Record<string, AnyDatabase>> = {
  readonly [Name in keyof Databases]: Databases[Name] extends Database<infer Raw>
    ? BranchHandle<Raw>
    : never
}

/** One database of a transaction, and the names it was given under (they share its branch). */
export interface DatabaseGroup {
  readonly database: AnyDatabase
  readonly names: string[]
}

/**
 * The databases of `begin({ ... })`, one group per distinct database.
 *
 * @example
 * ```ts
 * groupByIdentity({ orders, reports: orders, ledger }).length // 2
 * ```
 */
export function groupByIdentity(databases: Record<string, AnyDatabase>): DatabaseGroup[] {
  if (databases === null || typeof databases !== 'object') {
    throw new ConfigurationError(
      'Pass the databases as a record of names to databases: { orders, ledger }.',
    )
  }
  const groups = new Map<string, DatabaseGroup>()
  for (const [name, database] of Object.entries(databases)) {
    assertDatabase(database, name)
    const group = groups.get(database.identity)
    if (group === undefined) {
      groups.set(database.identity, { database, names: [name] })
    } else {
      group.names.push(name)
    }
  }
  if (groups.size === 0) {
    throw new ConfigurationError('A transaction needs at least one database; none was given.')
  }
  if (groups.size > MAX_BRANCHES) {
    throw new ConfigurationError(
      `A transaction can span at most ${MAX_BRANCHES} databases; ${groups.size} were given.`,
    )
  }
  return [...groups.values()]
}
