import type { DriverConnection } from '../driver/driver-connection.js'
import type { AuditRecordsDialect } from './audit-records.js'
import type { DatabaseClock } from './database-clock.js'
import type { DecisionRecordsDialect } from './decision-records.js'
import type { ErrorPredicates } from './error-predicates.js'
import type { FenceDialect } from './fence-dialect.js'
import type { InboxDialect } from './inbox-dialect.js'
import type { LockDialect } from './lock-dialect.js'
import type { OutboxDialect } from './outbox-dialect.js'
import type { OutboxStoreDialect } from './outbox-store-dialect.js'
import type { PreflightDialect } from './preflight-dialect.js'
import type { PreparedDetailDialect } from './prepared-detail.js'
import type { PreparedList } from './prepared-list.js'
import type { RunnerDialect } from './runner-dialect.js'
import type { TransactionGuard } from './transaction-guard.js'
import type { TwoPhaseControl } from './two-phase-control.js'

// The roles' own types, where the commit protocols and recovery have always found them.
export {
  type AbortInsertOutcome,
  type DecisionInsertOutcome,
  type DecisionLogState,
  type DecisionOutcome,
  type DecisionRow,
  stampedCreation,
} from './decision-records.js'
export type { PreparedTransaction } from './prepared-list.js'
export {
  BranchOutsideTransaction,
  RolledBackByServer,
  UnconfirmedAnswer,
} from './protocol-answers.js'
export {
  type FinishOutcome,
  type PrepareOutcome,
  type SavepointAction,
  savepointSql,
} from './two-phase-control.js'

/**
 * Everything that differs between databases, composed of one role per concern: two-phase control
 * of a branch, the guard against transaction-control statements, the decision records, the list of
 * prepared transactions, the clock, and what errors mean; a database that can take part in locks,
 * the parallel protocol, deployment checks or the runner adds those roles. Each vendor folder builds
 * its dialect from one file per role (`<db>-two-phase.ts`, `<db>-decision-records.ts`, …). The
 * commit engine talks to databases only through this interface and never names a vendor.
 */
export interface Dialect
  extends TwoPhaseControl,
    TransactionGuard,
    DecisionRecordsDialect,
    PreparedList,
    DatabaseClock,
    ErrorPredicates {
  /** For messages: `PostgreSQL`, `MySQL/MariaDB`. */
  readonly displayName: string
  /** The database's locks (advisory locks, named locks); absent where it has none. */
  readonly locks?: LockDialect
  /** The parallel protocol's fence rows; absent where a database cannot take part in it. */
  readonly fences?: FenceDialect
  /** The transactional outbox's tables and writes; absent where a database cannot hold one. */
  readonly outbox?: OutboxDialect
  /** The inbox's table of applied message ids; absent where a database cannot hold one. */
  readonly inbox?: InboxDialect
  /** What a relay and `txkit outbox` do with the outbox's rows; absent where none can be held. */
  readonly outboxStore?: OutboxStoreDialect
  /** The audit table of operators' resolutions (`txkit resolve`, `txkit audit`). */
  readonly audit?: AuditRecordsDialect
  /** Who prepared a prepared transaction and when, its locks and its waiters (`txkit show`). */
  readonly preparedDetail?: PreparedDetailDialect
  /** Checks of the server before any transaction runs (`checkDeployment`, `txkit check`). */
  readonly preflight?: PreflightDialect
  /**
   * The runner's dialect for the server behind `connection` (MySQL and MariaDB differ, so it may
   * ask the server); absent where the runner cannot work (user-written resources).
   */
  runnerDialect?(connection: DriverConnection): Promise<RunnerDialect>
}
