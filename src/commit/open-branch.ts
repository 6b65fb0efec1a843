import { Branch } from '../protocol/branch.js'
import type { ProtocolTransaction } from '../protocol/commit-protocol.js'
import type { TransactionRun } from '../protocol/transaction-run.js'
import { branchXid } from '../xid/xid.js'
import type { DatabaseGroup } from './database-group.js'

/**
 * Checks out a connection and opens one branch on it, its BEGIN as the protocol's begin rules say
 * (a fence row, the decision row). The branch joins `run` once begun; a branch that fails to begin
 * is given back and the error thrown.
 */
export async function openBranch(
  run: TransactionRun,
  protocol: ProtocolTransaction,
  group: DatabaseGroup,
  index: number,
  count: number,
  assertActive: () => void,
): Promise<Branch> {
  // The decision database's branch is never prepared, but MySQL opens every branch as XA.
  const xid = branchXid(run.gtrid, count, index)
  const connection = await group.database.acquire()
  const branch = new Branch(group.names, index, xid, group.database, connection, assertActive)
  try {
    // Ended while the connection was awaited (a sibling flow failed and the transaction rolled
    // back): a branch added now would be neither rolled back nor given back.
    assertActive()
  } catch (error) {
    branch.state = 'rolled-back'
    branch.release()
    throw error
  }
  try {
    await protocol.beginBranch(branch, count)
    // …or while its BEGIN was under way: the push below follows synchronously.
    assertActive()
  } catch (error) {
    branch.sessionDirty = true
    branch.state = 'rolled-back'
    branch.release()
    throw error
  }
  // Kept in index order: the sequential protocol prepares and commits in it, reports list it.
  run.branches.push(branch)
  run.branches.sort((a, b) => a.index - b.index)
  return branch
}

/** Undoes a branch of a begin that failed elsewhere: rolls it back and gives its connection back. */
export async function abandon(branch: Branch): Promise<void> {
  try {
    await branch.dialect.rollbackActive(branch.connection, branch.xid)
  } catch {
    branch.sessionDirty = true
  }
  branch.state = 'rolled-back'
  branch.release()
}
