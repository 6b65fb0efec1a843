import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type {
  Finding,
  PreflightDialect,
  PreflightExpectations,
} from '../dialect/preflight-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'

type Found = Omit<Finding, 'database'>

async function backendPid(connection: DriverConnection): Promise<number> {
  const { rows } = await connection.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  return Number(rows[0]?.pid)
}

/**
 * Whether `connection`'s statements run on a server session it does not own: one statement reads
 * its server session, another client then holds a transaction open (a transaction-mode pooler
 * hands it the session just freed, most recently used first), and a second statement reads again.
 * Direct connections and session pooling keep one server session per client.
 */
async function sharesServerSessions(
  connection: DriverConnection,
  database: Pick<Database, 'acquire'>,
): Promise<boolean> {
  const before = await backendPid(connection)
  return withConnection(database, async (other) => {
    await other.query('BEGIN')
    try {
      await backendPid(other)
      return (await backendPid(connection)) !== before
    } finally {
      await other.query('ROLLBACK')
    }
  })
}

/**
 * Settings a hot standby must have at least as high as its primary (PostgreSQL refuses to start,
 * or pauses replay, otherwise); max_prepared_transactions also bounds the prepared transactions a
 * promoted standby can hold.
 */
const STANDBY_AT_LEAST = [
  'max_prepared_transactions',
  'max_connections',
  'max_locks_per_transaction',
  'max_worker_processes',
  'max_wal_senders',
] as const

async function settingsOf(connection: DriverConnection): Promise<Map<string, number>> {
  const { rows } = await connection.query<{ name: string; setting: string }>(
    'SELECT name, setting FROM pg_settings WHERE name = ANY($1::text[])',
    [STANDBY_AT_LEAST],
  )
  return new Map(rows.map((row) => [row.name, Number(row.setting)]))
}

/** PostgreSQL's checks of its own server. */
export const postgresPreflight: PreflightDialect = {
  async inspectStandby(primary, standby) {
    const [mine, theirs] = await Promise.all([settingsOf(primary), settingsOf(standby)])
    const lower = STANDBY_AT_LEAST.filter(
      (name) => (theirs.get(name) ?? Number.POSITIVE_INFINITY) < (mine.get(name) ?? 0),
    )
    if (lower.length === 0) return []
    const listed = lower.map((name) => `${name} ${theirs.get(name)} < ${mine.get(name)}`).join(', ')
    return [
      {
        code: 'standby-settings-lower',
        severity: 'error',
        message: `This standby's settings are lower than its primary's (${listed}): PostgreSQL pauses its replay (or refuses to start it), so after a failover it is behind or down${lower.includes('max_prepared_transactions') ? ', and promoted it could not hold the prepared transactions the primary had' : ''}.`,
        fix: `Raise ${lower.join(', ')} on the standby to at least the primary's values and restart it (Patroni keeps these equal across members: set them in its DCS configuration).`,
      },
    ]
  },

  async inspect(connection, expected, database) {
    const found: Found[] = []
    if (await sharesServerSessions(connection, database)) {
      found.push({
        code: 'transaction-pooler',
        severity: 'error',
        message:
          'Connections go through a pooler that moves a client between server sessions after each transaction (PgBouncer in transaction or statement mode, or a proxy doing the same): session state is shared with other clients, so txkit locks (session advisory locks) are released under their holder or held for someone else, and session settings leak between clients.',
        fix: 'Connect txkit directly, or through a pooler in session mode (PgBouncer pool_mode = session) on a port of its own.',
      })
    }
    if (expected.holdsDecisions) found.push(...(await standbyFindings(connection)))
    found.push(...(await ownershipFindings(connection, expected.prefix)))
    return [...found, ...(await preparedTransactionFindings(connection, expected))]
  },
}

/**
 * Only a superuser or the role that prepared a transaction may COMMIT or ROLLBACK PREPARED it: in-
 * doubt transactions of ours prepared by other roles cannot be finished by this one.
 */
async function ownershipFindings(connection: DriverConnection, prefix: string): Promise<Found[]> {
  const { rows } = await connection.query<{ me: string; super: boolean; owners: string[] | null }>(
    `SELECT current_user AS me,
            (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS super,
            (SELECT array_agg(DISTINCT owner::text) FROM pg_prepared_xacts
              WHERE database = current_database() AND owner <> current_user
                AND starts_with(gid, $1)) AS owners`,
    [`${prefix}.`],
  )
  const row = rows[0]
  if (row === undefined || row.super || row.owners === null || row.owners.length === 0) return []
  return [
    {
      code: 'prepared-by-other-roles',
      severity: 'warning',
      message: `Transactions of ours are prepared here by ${row.owners.map((owner) => `"${owner}"`).join(', ')}, and "${row.me}" is not a superuser: PostgreSQL lets only a superuser or the role that prepared a transaction commit or roll it back, so recovery connecting as "${row.me}" cannot finish them.`,
      fix: 'Run recovery (txkit recover / watch) as the role the writers use, or as a superuser.',
    },
  ]
}

/**
 * The decision database's standbys, as its primary sees them (`pg_stat_replication`; its columns
 * are empty without superuser or pg_monitor, and then nothing is concluded).
 */
async function standbyFindings(connection: DriverConnection): Promise<Found[]> {
  const { rows } = await connection.query<{ name: string | null; sync_state: string | null }>(
    'SELECT application_name AS name, sync_state FROM pg_stat_replication',
  )
  const known = rows.filter((row) => row.sync_state !== null)
  if (known.length === 0) return []
  if (known.some((row) => row.sync_state === 'sync' || row.sync_state === 'quorum')) {
    const { rows: setting } = await connection.query<{ value: string }>(
      "SELECT current_setting('synchronous_commit') AS value",
    )
    const value = setting[0]?.value ?? ''
    if (value !== 'off' && value !== 'local') return []
    return [
      {
        code: 'decisions-on-async-standby',
        severity: 'error',
        message: `This database holds the decisions and has a synchronous standby, but synchronous_commit is '${value}' for txkit's sessions: a commit does not wait for the standby, so a decision acknowledged here may be missing on it after a failover, and recovery there would record 'A' for a transaction whose other branches committed.`,
        fix: 'Set synchronous_commit = on (or remote_apply) for the role txkit connects as (ALTER ROLE … SET synchronous_commit = on), or in postgresql.conf.',
      },
    ]
  }
  return [
    {
      code: 'decisions-on-async-standby',
      severity: 'error',
      message: `This database holds the decisions and replicates only asynchronously (${known.map((row) => `"${row.name ?? '?'}" ${row.sync_state}`).join(', ')}): a commit decision acknowledged here may be missing on a standby promoted after a crash, and recovery there would record 'A' for a transaction whose other branches committed.`,
      fix: "Make a standby synchronous (synchronous_standby_names = 'FIRST 1 (standby1)' with synchronous_commit = on; Patroni: synchronous_mode: true), or never fail the decision database over to an asynchronous standby.",
    },
  ]
}

async function preparedTransactionFindings(
  connection: DriverConnection,
  expected: PreflightExpectations,
): Promise<Found[]> {
  const { rows } = await connection.query<{ max_prepared: string; max_connections: string }>(
    `SELECT current_setting('max_prepared_transactions') AS max_prepared,
              current_setting('max_connections') AS max_connections`,
  )
  const maxPrepared = Number(rows[0]?.max_prepared)
  const maxConnections = Number(rows[0]?.max_connections)
  if (maxPrepared === 0) return [preparedTransactionsDisabled(expected, maxConnections)]
  if (expected.concurrency !== undefined && maxPrepared < expected.concurrency) {
    return [
      {
        code: 'prepared-transactions-too-few',
        severity: 'warning',
        message: `max_prepared_transactions is ${maxPrepared}, fewer than the ${expected.concurrency} transactions expected in flight at once: beyond it PREPARE TRANSACTION fails and those transactions roll back.`,
        fix: `Set max_prepared_transactions to at least ${expected.concurrency} (PostgreSQL advises max_connections, ${maxConnections}) and restart the server; prepared transactions left by crashes count too, so run recovery.`,
      },
    ]
  }
  return []
}

/**
 * `max_prepared_transactions = 0`: PREPARE TRANSACTION fails, which matters only where a branch is
 * prepared. The database keeping every decision of the decision protocol commits its own branch in
 * one phase, so there it is a warning (what would fail is named); anywhere else an error.
 */
function preparedTransactionsDisabled(
  expected: PreflightExpectations,
  maxConnections: number,
): Found {
  const setting =
    'max_prepared_transactions is 0 (PostgreSQL’s default): every PREPARE TRANSACTION fails here'
  const fix = `Set max_prepared_transactions to at least max_connections (${maxConnections}) in postgresql.conf and restart the server.`
  if (expected.keepsEveryDecision) {
    return {
      code: 'prepared-transactions-disabled',
      severity: 'warning',
      message: `${setting}. Transactions of the decision protocol still commit: this database keeps their decisions, and its own branch commits in one phase, without PREPARE. What needs a branch here prepared rolls back: the parallel and sequential protocols, and a transaction whose decision another database keeps (another decision log, or decisionDatabases).`,
      fix: `Nothing while only the decision protocol runs with its decisions kept here. For anything else: ${fix}`,
    }
  }
  return {
    code: 'prepared-transactions-disabled',
    severity: 'error',
    message: expected.holdsDecisions
      ? `${setting}. This database keeps decisions, so its branch of a transaction whose decision it keeps commits in one phase, without PREPARE; but a transaction whose decision another decision database keeps, or of the parallel protocol (fence tables), must prepare its branch here, and rolls back.`
      : `${setting}, and every branch here must be prepared, since this database was not named as one that keeps decisions (--decision-log, --decision-databases; decisionLog, decisionDatabases): no transaction with a branch here can commit. (Only a database that keeps a transaction's decision commits its own branch of it in one phase, without PREPARE.)`,
    fix,
  }
}
