import type { Dialect } from '../dialect/dialect.js'
import { mysqlAuditRecords } from './mysql-audit-records.js'
import { mysqlClock } from './mysql-clock.js'
import { mysqlDecisionRecords } from './mysql-decision-records.js'
import { mysqlErrorPredicates } from './mysql-error-codes.js'
import { mysqlFenceDialect } from './mysql-fence-dialect.js'
import { queryFlavour } from './mysql-flavour.js'
import { mysqlInbox } from './mysql-inbox.js'
import { mysqlLockDialect } from './mysql-lock-dialect.js'
import { mysqlOutbox } from './mysql-outbox.js'
import { mysqlOutboxStore } from './mysql-outbox-store.js'
import { mysqlPreflight } from './mysql-preflight.js'
import { mysqlPreparedDetail } from './mysql-prepared-detail.js'
import { mysqlPreparedList } from './mysql-prepared-list.js'
import { mysqlRunnerDialect } from './mysql-runner-dialect.js'
import { mysqlTransactionGuard } from './mysql-transaction-guard.js'
import { mysqlTwoPhase } from './mysql-two-phase.js'

export { mysqlTransactionControl } from './mysql-transaction-guard.js'

/**
 * MySQL 8 and MariaDB 10.5+: XA START … XA PREPARE / XA COMMIT, errno error codes. Written from
 * the MySQL documentation and tested against MariaDB; composed of one object per role, each in its
 * `mysql-<role>.ts` file.
 */
export const mysqlDialect: Dialect = {
  displayName: 'MySQL/MariaDB',
  locks: mysqlLockDialect,
  fences: mysqlFenceDialect,
  audit: mysqlAuditRecords,
  outbox: mysqlOutbox,
  inbox: mysqlInbox,
  outboxStore: mysqlOutboxStore,
  preflight: mysqlPreflight,
  preparedDetail: mysqlPreparedDetail,
  async runnerDialect(connection) {
    return mysqlRunnerDialect(await queryFlavour(connection))
  },
  ...mysqlTwoPhase,
  ...mysqlTransactionGuard,
  ...mysqlDecisionRecords,
  ...mysqlPreparedList,
  ...mysqlClock,
  ...mysqlErrorPredicates,
}
