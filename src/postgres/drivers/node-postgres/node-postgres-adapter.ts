import type { DriverAdapter } from '../../../driver/driver-adapter.js'
import { registerDriverAdapter } from '../../../driver/driver-adapters.js'

type Members = Readonly<Record<string, unknown>> | null | undefined

/**
 * A node-postgres pool or client, by the members tools use: `query`, and neither mysql2's
 * `getConnection`/`execute` nor the mariadb connector's `batch` (a postgres.js `sql` has no
 * `query` at all).
 */
function isNodePostgres(value: unknown, other: 'getConnection' | 'execute'): boolean {
  const members = value as Members
  if (members === null || members === undefined) return false
  return (
    typeof members.query === 'function' &&
    typeof members.batch !== 'function' &&
    typeof members[other] !== 'function'
  )
}

/** What node-postgres answers for a statement that changed nothing. */
function nothingDone(): unknown {
  return { command: '', rowCount: 0, rows: [], fields: [] }
}

/** node-postgres as the tool integrations know it. */
export const nodePostgresAdapter: DriverAdapter = {
  name: 'node-postgres',
  packageName: 'pg',
  databaseFactory: 'pgDatabase',
  entry: 'txkit/node-postgres',
  tools: {
    Drizzle: { label: "Drizzle's node-postgres driver" },
    Prisma: { label: "Prisma's PrismaPg adapter" },
    Knex: { label: "Knex's pg client", dialects: ['postgresql'] },
    TypeORM: { label: "TypeORM's postgres driver", dialects: ['postgres'] },
  },
  pool: {
    isPool: (value) => isNodePostgres(value, 'getConnection'),
    isConnection: (value) => isNodePostgres(value, 'execute'),
    checkout: 'connect',
    statements: ['query'],
    nothingDone,
  },
  callback: {
    connectionOf: (raw) => {
      const client = raw as Members
      return typeof client?.query === 'function' ? (client as Record<string, unknown>) : undefined
    },
    wrapped: false,
    nothingDone: () => [nothingDone()],
    promiseNothingDone: nothingDone,
  },
}

registerDriverAdapter(nodePostgresAdapter)
