import type { Database } from '../database/database.js'
import type { TableName } from '../dialect/table-name.js'
import type { DecisionLog } from '../records/decision-log.js'
import type { Logger } from '../util/logger.js'
import type { IdKind } from '../xid/xid.js'

/** What a recovery round was asked to do, checked (see `RecoverOptions`). */
export interface Settings {
  readonly databases: readonly Database[]
  /** The `decisionLog` option: also where transactions whose id names no log are read. */
  readonly decisionLog: DecisionLog | undefined
  /** Every decision log recovery may read (`decisionLog` first, then `decisionDatabases`). */
  readonly decisionLogs: readonly DecisionLog[]
  readonly prefix: string
  readonly protocols: ReadonlySet<IdKind>
  readonly minAge: number
  readonly dryRun: boolean
  readonly signal: AbortSignal | undefined
  readonly logger: Logger
  readonly concurrency: number
  readonly lockTimeout: number
  readonly maxTransactionDuration: number
  readonly fenceTable: { readonly table: TableName; readonly text: string }
}
