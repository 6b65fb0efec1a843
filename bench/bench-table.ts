import pg from 'pg'
import type { PostgresServer } from '../harness/postgres-server.js'

/** The `bench` table each transaction of the commit benchmarks inserts into, on every server. */
export async function createBenchTables(servers: readonly PostgresServer[]): Promise<void> {
  for (const server of servers) {
    const client = new pg.Client({ connectionString: server.url() })
    await client.connect()
    await client.query('CREATE TABLE bench (id bigserial PRIMARY KEY, note text)')
    await client.end()
  }
}
