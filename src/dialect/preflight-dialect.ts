import type { DriverConnection } from '../driver/driver-connection.js'

/** How much a finding stops txkit: `error`, it cannot run safely; `warning`, it may fail under load. */
export type FindingSeverity = 'error' | 'warning'

/** What a finding is about: stable, for scripts and metrics. */
export type FindingCode =
  /** The database cannot be reached (connect or query failed). */
  | 'unreachable'
  /** PostgreSQL `max_prepared_transactions = 0`: every PREPARE TRANSACTION fails. */
  | 'prepared-transactions-disabled'
  /** Fewer prepared-transaction slots than the expected concurrent transactions. */
  | 'prepared-transactions-too-few'
  /** The decision table does not exist in the decision database. */
  | 'decision-table-missing'
  /** The parallel protocol's fence table does not exist in a database. */
  | 'fence-table-missing'
  /** The database's clock is off from this host's by more than the bound. */
  | 'clock-skew'
  /** The database holding decisions replicates only to asynchronous standbys: a failover may lose decisions. */
  | 'decisions-on-async-standby'
  /** The account lacks a privilege recovery needs (MySQL 8: XA_RECOVER_ADMIN for XA RECOVER). */
  | 'missing-privilege'
  /** A standby whose settings are lower than its primary's: it stops replaying, and cannot hold the prepared transactions. */
  | 'standby-settings-lower'
  /** In-doubt transactions of ours belong to other roles, which this one (not a superuser) cannot finish. */
  | 'prepared-by-other-roles'
  /** A MariaDB Galera Cluster node (wsrep on): it does not run XA transactions. */
  | 'galera-no-xa'
  /** Connections go through a pooler that shares server sessions between clients (PgBouncer's transaction mode). */
  | 'transaction-pooler'

/** One problem found in one database, with what to do about it. */
export interface Finding {
  /** The database's stable name. */
  readonly database: string
  readonly code: FindingCode
  readonly severity: FindingSeverity
  /** What is wrong and what it breaks, in plain words. */
  readonly message: string
  /** What to change. */
  readonly fix: string
}

/** What the deployment expects of each database. */
export interface PreflightExpectations {
  /** Transactions that may be in flight at once on one database; unknown when undefined. */
  readonly concurrency: number | undefined
  /** Whether this database holds the deployment's decision records. */
  readonly holdsDecisions: boolean
  /**
   * Whether it keeps the decision of every transaction with a branch here (the only database
   * holding decisions, and no fence table, which the parallel protocol would need): under the
   * decision protocol its branch then commits in one phase and is never prepared.
   */
  readonly keepsEveryDecision: boolean
  /** The writers' prefix: transaction ids of ours start with it and a dot. */
  readonly prefix: string
}

/** A dialect's checks of its own server (settings, clusters, poolers, privileges). */
export interface PreflightDialect {
  /**
   * Findings about the server behind `connection`; `database` gives more sessions to checks that
   * need two (a pooler shows itself by moving a session's statements between server sessions).
   */
  inspect(
    connection: DriverConnection,
    expected: PreflightExpectations,
    database: { acquire(): Promise<DriverConnection> },
  ): Promise<ReadonlyArray<Omit<Finding, 'database'>>>
  /** Findings about a standby of the primary behind `primary` (settings it must match). */
  inspectStandby?(
    primary: DriverConnection,
    standby: DriverConnection,
  ): Promise<ReadonlyArray<Omit<Finding, 'database'>>>
}
