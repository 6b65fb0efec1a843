import type { PreflightDialect } from '../dialect/preflight-dialect.js'

/** MySQL's and MariaDB's checks of their own server. */
export const mysqlPreflight: PreflightDialect = {
  async inspect(connection) {
    // SHOW VARIABLES, not @@wsrep_on: a server built without Galera (MySQL) has no such variable.
    const { rows } = await connection.query<{ Value: string }>("SHOW VARIABLES LIKE 'wsrep_on'")
    if (rows[0]?.Value !== 'ON') return []
    return [
      {
        code: 'galera-no-xa',
        severity: 'error',
        message:
          "This is a Galera Cluster node (wsrep_on = ON): MariaDB refuses XA START there (\"doesn't yet support 'XA transactions with Galera replication'\"), so no transaction with a branch here can even begin.",
        fix: 'Give txkit a database outside the Galera cluster for its branches (an asynchronous replica of the cluster cannot take writes either): two-phase commit needs a server with XA, such as a primary with ordinary or semi-synchronous replication.',
      },
    ]
  },
}
