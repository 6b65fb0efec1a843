import type { Database } from '../database/database.js'
import { COMMIT_OPTIONS, checkAcknowledge } from '../protocol/acknowledge.js'
import type { CommitOptions, CommitResult } from '../protocol/commit-result.js'
import { checkOptionNames } from '../util/check-option-names.js'
import type { CommitProtocolName } from '../xid/xid.js'
import type { BranchesOf } from './database-group.js'
import type { DistributedTransaction } from './distributed-transaction.js'

/** The callback of `coordinator.transaction()`: the work done in the transaction. */
// biome-ignore lint/suspicious/noExplicitAny: any driver's connection type
export type TransactionWork<Databases extends Record<string, Database<any>>, Result> = (
  branches: BranchesOf<Databases>,
  transaction: DistributedTransaction<BranchesOf<Databases>>,
) => Promise<Result>

/**
 * What `coordinator.transactionResult(databases, work)` resolves to: the work's value and the
 * commit's report, whose `pending` and `completion` say, when the commit was acknowledged at its
 * decision, which branches are still being committed in the background and when they are.
 */
export interface TransactionResult<Value> {
  /** What `work` returned. */
  readonly value: Value
  /**
   * The commit's report; undefined when `work` ended the transaction itself (its own
   * `transaction.commit()` returned the report, or it rolled back).
   */
  readonly result: CommitResult | undefined
}

/**
 * Refuses, before the transaction begins, options `method` does not know and an `acknowledge`
 * that `protocol` cannot honour.
 *
 * @example
 * ```ts
 * checkTransactionOptions({ acknowledge: 'decision' }, 'sequential', 'transaction()') // throws
 * ```
 */
export function checkTransactionOptions(
  options: CommitOptions | undefined,
  protocol: CommitProtocolName,
  method: string,
): void {
  if (options === undefined) return
  checkOptionNames(options, COMMIT_OPTIONS, method)
  if (options.acknowledge !== undefined) checkAcknowledge(options.acknowledge, protocol)
}

/**
 * Runs `work` in `transaction`, then commits it with `options`: rolls back everywhere when `work`
 * throws, or when the commit is refused before it begins (and rethrows).
 *
 * @example
 * ```ts
 * const { value, result } = await runTransaction(await coordinator.begin({ a, b }), work, {})
 * ```
 */
export async function runTransaction<Branches, Value>(
  transaction: DistributedTransaction<Branches>,
  work: (branches: Branches, transaction: DistributedTransaction<Branches>) => Promise<Value>,
  options: CommitOptions | undefined,
): Promise<TransactionResult<Value>> {
  let value: Value
  try {
    value = await work(transaction.branches, transaction)
  } catch (error) {
    if (transaction.status === 'active') await transaction.rollbackAfter(error)
    throw error
  }
  if (transaction.status !== 'active') return { value, result: undefined }
  try {
    return { value, result: await transaction.commit(options) }
  } catch (error) {
    // Refused before it began (the transaction can only be rolled back): roll it back.
    if (transaction.status === 'active') await transaction.rollbackAfter(error)
    throw error
  }
}
