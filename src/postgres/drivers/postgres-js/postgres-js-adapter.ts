import type { DriverAdapter } from '../../../driver/driver-adapter.js'
import { registerDriverAdapter } from '../../../driver/driver-adapters.js'

/**
 * postgres.js as the tool integrations know it: none of them is given its `sql` in place of the
 * real one, or drives its connections in callback form; it is named in their messages only.
 */
export const postgresJsAdapter: DriverAdapter = {
  name: 'postgres.js',
  packageName: 'postgres',
  databaseFactory: 'postgresJsDatabase',
  entry: 'txkit/postgres-js',
  tools: {},
}

registerDriverAdapter(postgresJsAdapter)
