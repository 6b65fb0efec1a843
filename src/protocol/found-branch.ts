import type { Database } from '../database/database.js'
import type { OurXid } from '../xid/xid.js'

/** One prepared branch of ours, as found by a scan. */
export interface FoundBranch {
  readonly database: Database
  readonly xid: string
  readonly parsed: OurXid
  readonly preparedAt: number | undefined
}
