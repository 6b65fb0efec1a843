import {
  BranchOutsideTransaction,
  RolledBackByServer,
  UnconfirmedAnswer,
} from '../dialect/dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { PreparedTransactionsDisabledError } from '../errors/prepared-transactions-disabled-error.js'
import { errorMessage } from '../util/error-message.js'
import type { Branch } from './branch.js'
import { runStep } from './protocol-step.js'
import type { TransactionRun } from './transaction-run.js'

/** A branch the database rolled back instead of preparing. */
export class BranchRolledBackByServer extends Error {}

/** What a branch's spans carry: its database's stable name and its index, never its URL. */
function branchAttributes(branch: Branch) {
  return { 'txkit.database': branch.database.name, 'txkit.branch.index': branch.index }
}

const FINISH_RETRY_DELAYS_MS = [50, 250, 1000]

/**
 * Prepares one branch. On failure the branch's state says where it stands: `unknown` if the
 * session was lost mid-prepare, `rolled-back` if the server rolled it back, otherwise `active`.
 */
export function prepareBranch(run: TransactionRun, branch: Branch): Promise<void> {
  return runStep(run, {
    step: 'prepare',
    branch,
    span: 'txkit.prepare',
    attributes: branchAttributes(branch),
    work: async () => {
      await run.outbox?.writeOn(run, branch)
      const outcome = await branch.dialect.prepare(branch.connection, branch.xid)
      if (outcome === 'rolled-back') {
        branch.state = 'rolled-back'
        throw new BranchRolledBackByServer(
          `${branch.dialect.displayName} rolled back branch "${branch.names[0]}" instead of preparing it: a statement in it had failed (an error caught and ignored inside the transaction leaves it failed)`,
        )
      }
      branch.state = 'prepared'
    },
    failed: async (thrown, span) => {
      let error = thrown
      if (thrown instanceof BranchOutsideTransaction) {
        branch.state = 'ended-elsewhere'
        branch.sessionDirty = true
      } else if (thrown instanceof RolledBackByServer) {
        // Closed rather than reused: what the session's state is after the failure is the server's.
        branch.state = 'rolled-back'
        branch.sessionDirty = true
        error = thrown.cause
      } else if (thrown instanceof UnconfirmedAnswer) {
        branch.state = 'unknown'
      } else if (branch.state === 'active' && branch.isLost(thrown)) {
        branch.state = 'unknown'
      }
      branch.error = await explainPrepareFailure(branch, error)
      span?.set({ 'txkit.branch.state': branch.state })
      return branch.error
    },
  })
}

async function explainPrepareFailure(branch: Branch, error: unknown): Promise<unknown> {
  if (branch.connection.lost || branch.state === 'ended-elsewhere' || branch.state === 'unknown') {
    return error
  }
  const explanation = await branch.dialect
    .explainPrepareFailure(branch.connection, error)
    .catch(() => undefined)
  if (explanation === undefined) return error
  return new PreparedTransactionsDisabledError(
    branch.database.name,
    `Database "${branch.database.name}": ${explanation}`,
    { cause: error },
  )
}

/**
 * Rolls a branch back wherever it stands; never throws. A prepared branch whose rollback cannot be
 * confirmed stays `prepared` (or `unknown`) for recovery to finish.
 */
export async function rollbackBranch(run: TransactionRun, branch: Branch): Promise<void> {
  switch (branch.state) {
    case 'active':
      if (branch.connection.lost) {
        // The server ends a session's unprepared work with the session.
        branch.state = 'rolled-back'
        return
      }
      try {
        await branch.dialect.rollbackActive(branch.connection, branch.xid)
      } catch (error) {
        branch.sessionDirty = true
        if (error instanceof BranchOutsideTransaction) {
          branch.state = 'ended-elsewhere'
          branch.error ??= error
          return
        }
        // A database's session is closed next, which undoes its work; a resource's work stays
        // unless its abort() is retried by someone: nothing else will undo it.
        run.logger.error(
          { gtrid: run.gtrid, database: branch.database.name, error: errorMessage(error) },
          'txkit: rolling back a branch failed; its session is closed, and a resource must be undone by hand',
        )
      }
      branch.state = 'rolled-back'
      return
    case 'prepared':
    case 'unknown': {
      const xid = branch.xid
      const answer = await finishByXid(branch, xid, 'rollbackPrepared')
      if (provesFinished(branch, answer)) branch.state = 'rolled-back'
      return
    }
    default:
      return
  }
}

/**
 * Commits a prepared branch, retrying on a fresh session when its own is lost. A branch that
 * cannot be confirmed stays `prepared`: the decision is durable, recovery commits it.
 * `notFoundProves`: whether a "not found" answer may prove the commit (not under the sequential
 * rule, where recovery may have rolled the branch back instead).
 */
export async function commitBranch(
  run: TransactionRun,
  branch: Branch,
  notFoundProves: boolean,
): Promise<void> {
  const xid = branch.xid
  let committed: boolean
  try {
    committed = await runStep(run, {
      step: 'commit',
      branch,
      span: 'txkit.commit',
      attributes: branchAttributes(branch),
      work: async (span) => {
        const answer = await finishByXid(branch, xid, 'commitPrepared')
        // After a 'C' decision only recovery, following the same decision, can finish it first.
        const proof = notFoundProves || answer === 'done'
        if (proof && provesFinished(branch, answer)) branch.state = 'committed'
        span?.set({ 'txkit.branch.state': branch.state })
        return branch.state === 'committed'
      },
      done: (committed) => committed,
      undone: () => branch.error ?? 'left for recovery',
      before: 'before-span',
    })
  } catch (error) {
    // Only the `before` observer throws here: the branch stays prepared, for recovery.
    branch.error = error
    return
  }
  if (committed) run.outbox?.wakeAfter(run, branch)
  else {
    run.logger.warn(
      { gtrid: run.gtrid, database: branch.database.name, xid, error: branch.error },
      'txkit: committed, but a branch could not be finished; recovery will commit it',
    )
  }
}

/**
 * What finishing a prepared branch by id answered: `done`, `not-found` on the session that
 * prepared it, `not-found-elsewhere` on a fresh session (which proves nothing where a branch may
 * stay attached to a lost session), or undefined when no attempt got an answer.
 */
type FinishAnswer = 'done' | 'not-found' | 'not-found-elsewhere' | undefined

/**
 * COMMIT PREPARED / ROLLBACK PREPARED by id: on the branch's own session, then on fresh ones while
 * the session is lost or another session (a recovery worker) is finishing the same branch.
 */
async function finishByXid(
  branch: Branch,
  xid: string,
  action: 'commitPrepared' | 'rollbackPrepared',
): Promise<FinishAnswer> {
  if (!branch.connection.lost) {
    try {
      const outcome = await branch.dialect[action](branch.connection, xid)
      if (outcome !== 'busy') return outcome
    } catch (error) {
      branch.error = error
      if (!branch.isLost(error)) return undefined
    }
  }
  for (const delay of FINISH_RETRY_DELAYS_MS) {
    await new Promise((resolve) => setTimeout(resolve, delay))
    let connection: DriverConnection | undefined
    try {
      connection = await branch.database.acquire()
      const outcome = await branch.dialect[action](connection, xid)
      connection.release(false)
      if (outcome === 'busy') continue
      if (outcome === 'done') branch.error = undefined
      return outcome === 'done' ? 'done' : 'not-found-elsewhere'
    } catch (error) {
      connection?.release(true)
      branch.error = error
      const lost =
        connection === undefined || connection.lost || branch.dialect.isConnectionLost(error)
      if (!lost) return undefined
    }
  }
  return undefined
}

/** Whether a "not found" answer proves the branch finished. */
function provesFinished(branch: Branch, answer: FinishAnswer): boolean {
  if (answer === 'done') return true
  if (branch.state === 'unknown') return false
  if (answer === 'not-found') return true
  return answer === 'not-found-elsewhere' && !branch.dialect.preparedBranchMayStayAttached
}
