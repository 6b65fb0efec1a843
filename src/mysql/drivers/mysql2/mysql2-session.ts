import type { HeldSession } from '../../../database/held-session.js'
import type { RunnerDialect } from '../../../dialect/runner-dialect.js'
import { queryFlavour } from '../../mysql-flavour.js'
import { mysqlRunnerDialect } from '../../mysql-runner-dialect.js'
import { MysqlConnection, type MysqlConnectionLike } from './mysql2-connection.js'

/**
 * A mysql2 connection you hold in a transaction (and keep: txkit never releases it), for
 * `runner.run` to work on that very connection, each attempt in a savepoint. The operation receives
 * the connection. (MySQL does not report a session's transaction state without a round trip; give
 * a pool-backed `mysqlDatabase` to have the runner open transactions itself.)
 *
 * @example
 * ```ts
 * const connection = await pool.getConnection()
 * await connection.query('START TRANSACTION')
 * await runner.run(mysqlSession(connection), (c) => c.query('UPDATE stock SET n = n - 1 WHERE id = 1'))
 * await connection.query('COMMIT')
 * ```
 */
export function mysqlSession<Connection extends MysqlConnectionLike>(
  connection: Connection,
): HeldSession<Connection> {
  const session = new MysqlConnection(connection, undefined)
  let dialect: Promise<RunnerDialect> | undefined
  return {
    kind: 'held-session',
    connection: session,
    inTransaction: () => true,
    runnerDialect() {
      dialect ??= queryFlavour(session).then(mysqlRunnerDialect)
      dialect.catch(() => {
        dialect = undefined
      })
      return dialect
    },
  }
}
