import type { HeldSession } from '../../../database/held-session.js'
import type { MysqlFlavour } from '../../mysql-flavour.js'
import { mysqlRunnerDialect } from '../../mysql-runner-dialect.js'
import { MariadbConnection, type MariadbConnectionLike } from './mariadb-connection.js'

/**
 * A connector connection you hold in a transaction (and keep: txkit never releases it), for
 * `runner.run` to work on it, each attempt in a savepoint. The operation receives it.
 *
 * @example
 * ```ts
 * const connection = await pool.getConnection()
 * await connection.beginTransaction()
 * await runner.run(mariadbSession(connection, 'mariadb'), (c) => c.query('UPDATE stock SET n = n - 1 WHERE id = 1'))
 * await connection.commit()
 * ```
 */
export function mariadbSession<Connection extends MariadbConnectionLike>(
  connection: Connection,
  flavour: MysqlFlavour = 'mariadb',
): HeldSession<Connection> {
  return {
    kind: 'held-session',
    connection: new MariadbConnection(connection, undefined),
    inTransaction: () => true,
    runnerDialect: async () => mysqlRunnerDialect(flavour),
  }
}
