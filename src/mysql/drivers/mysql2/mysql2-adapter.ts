import type { DriverAdapter } from '../../../driver/driver-adapter.js'
import { registerDriverAdapter } from '../../../driver/driver-adapters.js'

type Members = Readonly<Record<string, unknown>> | null | undefined

/**
 * A mysql2 promise pool (it has `getConnection`) or connection (it has `execute`), and not the
 * mariadb connector's (which also has `batch`).
 */
function isMysql2(value: unknown, member: 'getConnection' | 'execute'): boolean {
  const members = value as Members
  if (members === null || members === undefined) return false
  return typeof members.batch !== 'function' && typeof members[member] === 'function'
}

/** What mysql2's promise API answers for a statement that changed nothing: `[result, fields]`. */
function nothingDone(): [unknown, undefined] {
  return [{ affectedRows: 0, insertId: 0, warningStatus: 0 }, undefined]
}

/** mysql2 as the tool integrations know it. */
export const mysql2Adapter: DriverAdapter = {
  name: 'mysql2',
  packageName: 'mysql2',
  databaseFactory: 'mysqlDatabase',
  entry: 'txkit/mysql2',
  tools: {
    Drizzle: { label: "Drizzle's mysql2 driver" },
    Knex: { label: "Knex's mysql2 client", dialects: ['mysql', 'mysql2'] },
    TypeORM: { label: "TypeORM's mysql driver", dialects: ['mysql', 'mariadb'] },
  },
  pool: {
    isPool: (value) => isMysql2(value, 'getConnection'),
    isConnection: (value) => isMysql2(value, 'execute'),
    checkout: 'getConnection',
    statements: ['query', 'execute'],
    nothingDone,
  },
  callback: {
    // Knex and TypeORM drive the callback connection under the promise one (`.connection`).
    connectionOf: (raw) => {
      const callback = (raw as { connection?: Members } | null)?.connection
      return typeof callback?.query === 'function' && typeof callback.promise === 'function'
        ? (callback as Record<string, unknown>)
        : undefined
    },
    wrapped: true,
    nothingDone,
    promiseNothingDone: nothingDone,
  },
}

registerDriverAdapter(mysql2Adapter)
