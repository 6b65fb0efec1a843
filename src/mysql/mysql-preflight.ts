import { errno } from '../dialect/error-code.js'
import type { Finding, PreflightDialect } from '../dialect/preflight-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'

/** ER_SPECIFIC_ACCESS_DENIED_ERROR: the statement needs a privilege the account lacks. */
const ER_SPECIFIC_ACCESS_DENIED = 1227

type Found = Omit<Finding, 'database'>

/** MySQL's and MariaDB's checks of their own server. */
export const mysqlPreflight: PreflightDialect = {
  async inspect(connection) {
    // On a Galera node nothing XA runs: that one finding says it all.
    const galera = await galeraFindings(connection)
    return galera.length > 0 ? galera : privilegeFindings(connection)
  },
}

/**
 * Recovery lists prepared branches with XA RECOVER, which MySQL 8 allows only to accounts with
 * XA_RECOVER_ADMIN (MariaDB allows it to any account): asked, not inferred from the version.
 */
async function privilegeFindings(connection: DriverConnection): Promise<Found[]> {
  try {
    await connection.query('XA RECOVER')
    return []
  } catch (error) {
    if (errno(error) !== ER_SPECIFIC_ACCESS_DENIED) throw error
    return [
      {
        code: 'missing-privilege',
        severity: 'error',
        message:
          'This account may not run XA RECOVER (MySQL 8 allows it only with the XA_RECOVER_ADMIN privilege): recovery connecting as it cannot find the in-doubt branches here, which then hold their locks until someone finishes them by hand.',
        fix: 'GRANT XA_RECOVER_ADMIN ON *.* TO the account recovery (txkit recover / watch) uses.',
      },
    ]
  }
}

async function galeraFindings(connection: DriverConnection): Promise<Found[]> {
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
}
