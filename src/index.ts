export {
  type BranchesOf,
  Coordinator,
  type CoordinatorOptions,
  createCoordinator,
} from './commit/coordinator.js'
export {
  DistributedTransaction,
  type TransactionSavepoint,
  type TransactionStatus,
} from './commit/distributed-transaction.js'
export type { TransactionOutbox } from './commit/transaction-outbox.js'
export type { TransactionResult } from './commit/transaction-result.js'
export type { Database } from './database/database.js'
export type { HeldSession } from './database/held-session.js'
export {
  openUrlDatabase,
  type UrlDatabase,
  type UrlDatabaseOptions,
  type UrlDriver,
} from './database/url-driver.js'
export type { AuditOutcome, AuditRow } from './dialect/audit-records.js'
export type { Dialect } from './dialect/dialect.js'
export type {
  LockDialect,
  LockGrant,
  LockMode,
  LockRequest,
  LockScope,
  LockWait,
} from './dialect/lock-dialect.js'
export type {
  ListedMessage,
  OutboxCounts,
  OutboxState,
} from './dialect/outbox-store-dialect.js'
export type { Finding, FindingCode, FindingSeverity } from './dialect/preflight-dialect.js'
export type { OperationSettings, RunnerDialect } from './dialect/runner-dialect.js'
export type { DriverConnection, QueryResult } from './driver/driver-connection.js'
export type { BranchReport, BranchState } from './errors/branch-report.js'
export {
  BranchTransactionEndedError,
  isBranchTransactionEndedError,
} from './errors/branch-transaction-ended-error.js'
export {
  BrokerSetupError,
  isBrokerSetupError,
} from './errors/broker-setup-error.js'
export {
  CommitOutcomeUnknownError,
  isCommitOutcomeUnknownError,
} from './errors/commit-outcome-unknown-error.js'
export {
  ConcurrentSavepointError,
  type ConcurrentSavepointReason,
  isConcurrentSavepointError,
} from './errors/concurrent-savepoint-error.js'
export { ConfigurationError, isConfigurationError } from './errors/configuration-error.js'
export {
  DecisionLogMissingError,
  isDecisionLogMissingError,
} from './errors/decision-log-missing-error.js'
export { isLockLostError, LockLostError } from './errors/lock-lost-error.js'
export { isLockReentryError, LockReentryError } from './errors/lock-reentry-error.js'
export { isLockStateError, LockStateError } from './errors/lock-state-error.js'
export { isLockTimeoutError, LockTimeoutError } from './errors/lock-timeout-error.js'
export { isLockWaitAbortedError, LockWaitAbortedError } from './errors/lock-wait-aborted-error.js'
export {
  isMessageRefusedError,
  type MessageRefusal,
  MessageRefusedError,
} from './errors/message-refused-error.js'
export { isOutcomeUnknownError, OutcomeUnknownError } from './errors/outcome-unknown-error.js'
export {
  isPreparedTransactionsDisabledError,
  PreparedTransactionsDisabledError,
} from './errors/prepared-transactions-disabled-error.js'
export {
  isRetryTransactionError,
  RetryTransactionError,
} from './errors/retry-transaction-error.js'
export { isRunAbortedError, RunAbortedError } from './errors/run-aborted-error.js'
export {
  isTransactionControlRefusedError,
  TransactionControlRefusedError,
} from './errors/transaction-control-refused-error.js'
export { TransactionOutcomeError } from './errors/transaction-outcome-error.js'
export {
  isTransactionRolledBackError,
  TransactionRolledBackError,
} from './errors/transaction-rolled-back-error.js'
export {
  isTransactionStateError,
  TransactionStateError,
} from './errors/transaction-state-error.js'
export { isTxkitError, TxkitError } from './errors/txkit-error.js'
export { createInbox, Inbox, type InboxOutcome, type InboxWork } from './inbox/inbox.js'
export type { InboxGarbageCollection, InboxGarbageOptions } from './inbox/inbox-garbage.js'
export type { InboxOptions, InboxTableOptions } from './inbox/inbox-options.js'
export { createInboxTable, inboxTableSql } from './inbox/inbox-table.js'
export { createLock } from './lock/create-lock.js'
export { DatabaseLock, type LockStatus } from './lock/database-lock.js'
export {
  type LockIdentifier,
  type LockKey,
  type LockKeyMapping,
  type LockKeySpace,
  type LongKeyPolicy,
  lockIdentifier,
} from './lock/lock-key.js'
export type { AcquireOptions, LockOptions } from './lock/lock-options.js'
export type { LockSource } from './lock/lock-source.js'
export { type WithLockOptions, withLock } from './lock/with-lock.js'
export type { ManagedOutbox } from './manager/managed-outbox.js'
export type { ManagedSavepoint } from './manager/managed-savepoints.js'
export {
  type AfterAbortHook,
  type AfterCommitHook,
  type BeforeCommitHook,
  ManagedTransaction,
} from './manager/managed-transaction.js'
export type {
  RecordedWrite,
  RecordHook,
  RecordHookInfo,
  RecordHooks,
  RecordKind,
} from './manager/record-hooks.js'
export type { ResourceSavepoint, TransactionResource } from './manager/resource-database.js'
export { isRetryableTransactionError } from './manager/retryable-error.js'
export type { RetryOptions, TransactionAttempt } from './manager/transaction-attempts.js'
export type { CommitOutcome } from './manager/transaction-hooks.js'
export type { ManagedStatus } from './manager/transaction-lifecycle.js'
export type { TransactionLockOptions } from './manager/transaction-locks.js'
export { createTransactionManager, TransactionManager } from './manager/transaction-manager.js'
export type { TransactionManagerOptions } from './manager/transaction-manager-options.js'
export {
  DESTINATION_HEADER,
  KEY_HEADER,
  MESSAGE_ID_HEADER,
  type MessageBroker,
  type PublishOutcome,
  type RelayedMessage,
} from './message/message-broker.js'
export {
  newMessageId,
  type OutboxMessage,
  type SendOptions,
} from './message/outbox-message.js'
export type {
  DestinationOptions,
  OutboxDefinition,
  OutboxOptions,
} from './message/outbox-options.js'
export { decodePayload, type ReceivedMessage } from './message/received-message.js'
export {
  type CheckDeploymentOptions,
  checkDeployment,
  type DeploymentCheck,
} from './preflight/check-deployment.js'
export type { BackgroundCommitStats } from './protocol/background-commits.js'
export type { BranchHandle } from './protocol/branch.js'
export type { Acknowledge, CommitOptions, CommitResult } from './protocol/commit-result.js'
export type {
  ProtocolStep,
  ProtocolStepEvent,
  ProtocolStepObserver,
} from './protocol/protocol-step.js'
export type {
  LeftReason,
  MalformedPrepared,
  RecoveredBranch,
  RecoveryReport,
  ScannedDatabase,
  TransactionRecovery,
} from './protocol/recovery-report.js'
export { createAuditTable, DEFAULT_AUDIT_TABLE } from './records/audit-log.js'
export { DEFAULT_DECISION_TABLE, type DecisionLogOptions } from './records/decision-log.js'
export { createOutboxTables, type OutboxTableOptions } from './records/outbox-tables.js'
export { type RecoverOptions, recover } from './recovery/recover.js'
export type { RecoveryProgress } from './recovery/recovery-progress.js'
export {
  type Resolution,
  type ResolveOptions,
  resolveTransaction,
} from './recovery/resolve-transaction.js'
export {
  checkOutboxTables,
  collectOutboxGarbage,
  type ListOutboxOptions,
  listOutbox,
  type OutboxGarbage,
  type OutboxGarbageOptions,
  type OutboxTableOption,
  outboxCounts,
  type ReplayOutboxOptions,
  replayOutbox,
} from './relay/outbox-admin.js'
export { createRelay, Relay, type RelayPassCounts } from './relay/relay.js'
export type { RelayMetrics } from './relay/relay-metrics.js'
export type { RelayOptions } from './relay/relay-options.js'
export {
  createRunner,
  type OperationContext,
  Runner,
  type RunTarget,
  type SessionOf,
} from './runner/runner.js'
export type { RunnerOptions, RunOptions } from './runner/runner-options.js'
export {
  classifyError,
  type ErrorClassification,
  isTransientError,
} from './runner/transient-error.js'
export type { Logger } from './util/logger.js'
export { DEFAULT_PREFIX, validatePrefix } from './xid/deployment-prefix.js'
export {
  branchXid,
  type CommitProtocolName,
  type ForeignXid,
  type MalformedXid,
  type OurXid,
  type ParsedXid,
  parseXid,
} from './xid/xid.js'
