import type { HeldSession } from '../../../database/held-session.js'
import { postgresRunnerDialect } from '../../postgres-runner-dialect.js'
import { type PgClientLike, PgConnection } from './node-postgres-connection.js'

/**
 * A node-postgres client you hold (and keep: txkit never releases it), for `runner.run` to work on
 * that very client: in savepoints while it is in a transaction (ReadyForQuery says so), in
 * transactions of the runner's own otherwise. The operation receives the client.
 *
 * @example
 * ```ts
 * const client = await pool.connect()
 * await client.query('BEGIN')
 * await runner.run(pgSession(client), (c) => c.query('UPDATE stock SET n = n - 1 WHERE id = 1'))
 * await client.query('COMMIT')
 * ```
 */
export function pgSession<Client extends PgClientLike>(client: Client): HeldSession<Client> {
  const connection = new PgConnection(client, false)
  return {
    kind: 'held-session',
    connection,
    // A client whose driver does not report the status is taken to be in the caller's transaction.
    inTransaction: () => connection.transactionStatus() !== 'idle',
    runnerDialect: async () => postgresRunnerDialect,
  }
}
