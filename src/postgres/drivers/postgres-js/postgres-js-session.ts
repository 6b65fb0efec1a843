import type { HeldSession } from '../../../database/held-session.js'
import { postgresRunnerDialect } from '../../postgres-runner-dialect.js'
import { PostgresJsConnection, type PostgresJsReservedLike } from './postgres-js-connection.js'

/**
 * A postgres.js reserved connection you hold in a transaction (and keep: txkit never releases it),
 * for `runner.run` to work on it, each attempt in a savepoint. The operation receives it.
 *
 * @example
 * ```ts
 * const reserved = await sql.reserve()
 * await reserved`BEGIN`
 * await runner.run(postgresJsSession(reserved), (s) => s`UPDATE stock SET n = n - 1 WHERE id = 1`)
 * await reserved`COMMIT`
 * reserved.release()
 * ```
 */
export function postgresJsSession<Reserved extends PostgresJsReservedLike>(
  reserved: Reserved,
): HeldSession<Reserved> {
  return {
    kind: 'held-session',
    connection: new PostgresJsConnection(reserved, false),
    inTransaction: () => true,
    runnerDialect: async () => postgresRunnerDialect,
  }
}
