import type { Dialect } from '../dialect/dialect.js'
import { postgresAuditRecords } from './postgres-audit-records.js'
import { postgresClock } from './postgres-clock.js'
import { postgresDecisionRecords } from './postgres-decision-records.js'
import { postgresErrorPredicates } from './postgres-error-codes.js'
import { postgresFenceDialect } from './postgres-fence-dialect.js'
import { postgresInbox } from './postgres-inbox.js'
import { postgresLockDialect } from './postgres-lock-dialect.js'
import { postgresOutbox } from './postgres-outbox.js'
import { postgresOutboxStore } from './postgres-outbox-store.js'
import { postgresPreflight } from './postgres-preflight.js'
import { postgresPreparedDetail } from './postgres-prepared-detail.js'
import { postgresPreparedList } from './postgres-prepared-list.js'
import { postgresRunnerDialect } from './postgres-runner-dialect.js'
import { postgresTransactionGuard } from './postgres-transaction-guard.js'
import { postgresTwoPhase } from './postgres-two-phase.js'

export { postgresTransactionControl } from './postgres-transaction-guard.js'

/**
 * PostgreSQL: PREPARE TRANSACTION / COMMIT PREPARED, SQLSTATE error codes; composed of one object
 * per role, each in its `postgres-<role>.ts` file.
 */
export const postgresDialect: Dialect = {
  displayName: 'PostgreSQL',
  locks: postgresLockDialect,
  fences: postgresFenceDialect,
  audit: postgresAuditRecords,
  outbox: postgresOutbox,
  inbox: postgresInbox,
  outboxStore: postgresOutboxStore,
  preflight: postgresPreflight,
  preparedDetail: postgresPreparedDetail,
  async runnerDialect() {
    return postgresRunnerDialect
  },
  ...postgresTwoPhase,
  ...postgresTransactionGuard,
  ...postgresDecisionRecords,
  ...postgresPreparedList,
  ...postgresClock,
  ...postgresErrorPredicates,
}
