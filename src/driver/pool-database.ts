import { mysqlDatabase } from '../mysql/mysql-database.js'
import { pgDatabase } from '../pg/pg-database.js'
import type { Database } from './database.js'

const wrapped = new WeakMap<object, Database>()

/**
 * A txkit database over a driver pool given as it is (locks and the runner accept raw pools): a
 * node-postgres `Pool` (it has `totalCount`, which a client has not) or a mysql2 pool (promise or
 * callback). Undefined for anything else. Wrapped once per pool.
 */
export function databaseOfPool(value: object): Database | undefined {
  const known = wrapped.get(value)
  if (known !== undefined) return known
  const shape = value as Record<string, unknown>
  let database: Database | undefined
  if (
    typeof shape.connect === 'function' &&
    typeof shape.query === 'function' &&
    'totalCount' in shape
  ) {
    database = pgDatabase(value as Parameters<typeof pgDatabase>[0], { name: 'pool' })
  } else if (typeof shape.getConnection === 'function' && ('pool' in shape || 'promise' in shape)) {
    database = mysqlDatabase(value as Parameters<typeof mysqlDatabase>[0], { name: 'pool' })
  }
  if (database !== undefined) wrapped.set(value, database)
  return database
}
