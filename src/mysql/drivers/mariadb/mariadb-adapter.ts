import type { DriverAdapter } from '../../../driver/driver-adapter.js'
import { registerDriverAdapter } from '../../../driver/driver-adapters.js'

/** A pool or connection of the mariadb connector: the only driver whose pools and connections have `batch`. */
function isMariadb(value: unknown): boolean {
  const members = value as Readonly<Record<string, unknown>> | null | undefined
  return typeof members?.batch === 'function'
}

/** The mariadb connector as the tool integrations know it. */
export const mariadbAdapter: DriverAdapter = {
  name: 'mariadb',
  packageName: 'mariadb',
  databaseFactory: 'mariadbDatabase',
  entry: 'txkit/mariadb',
  tools: {
    Prisma: { label: "Prisma's PrismaMariaDb adapter" },
  },
  pool: {
    isPool: isMariadb,
    isConnection: isMariadb,
    checkout: 'getConnection',
    statements: ['query', 'execute'],
    nothingDone: () => ({ affectedRows: 0, insertId: 0n, warningStatus: 0 }),
  },
}

registerDriverAdapter(mariadbAdapter)
