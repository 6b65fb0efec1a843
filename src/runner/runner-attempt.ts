import type { OperationSettings } from '../dialect/runner-dialect.js'
import { CommitOutcomeUnknownError } from '../errors/commit-outcome-unknown-error.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { RetryTransactionError } from '../errors/retry-transaction-error.js'
import { errorMessage } from '../util/error-message.js'
import { inBranchTurn } from './branch-turns.js'
import type { ResolvedTarget, RunnerSession } from './runner-target.js'
import { classifyError } from './transient-error.js'

/** Numbers the runner's savepoints: nested operations each get a name of their own. */
let savepoints = 0

/**
 * One attempt of an operation on `target`: in a savepoint of the caller's transaction, or in a
 * transaction of its own on a session of the pool. `noted` says, as soon as it is known, which
 * database the attempt runs on: its name (none for a held session) and its kind (`PostgreSQL` …).
 */
export async function runAttempt<Result>(
  target: ResolvedTarget,
  settings: OperationSettings,
  noted: AttemptDatabase,
  operation: (session: RunnerSession) => Promise<Result> | Result,
): Promise<Result> {
  if (target.kind === 'transaction') {
    // The caller's session: theirs to keep, never released here.
    const session = await target.session
    note(noted, session)
    return inSavepoint(session, settings, operation)
  }
  const session = await target.open()
  note(noted, session)
  return standalone(session, settings, operation)
}

/** Which database an attempt runs on, for its log record and span. */
export interface AttemptDatabase {
  /** The database's name; undefined for a held session (and until the session is known). */
  name: string | undefined
  /** The database's kind, from its runner dialect (`PostgreSQL`, `MariaDB` …). */
  kind: string
}

function note(noted: AttemptDatabase, session: RunnerSession): void {
  noted.name = session.database
  noted.kind = session.dialect.name
}

/**
 * One attempt in a savepoint of the caller's transaction. On a branch of a managed transaction
 * the attempt takes the transaction's turn: a sibling flow's savepoint set inside the attempt's
 * would be undone by its rollback after the sibling was told it succeeded.
 */
function inSavepoint<Result>(
  session: RunnerSession,
  settings: OperationSettings,
  operation: (session: RunnerSession) => Promise<Result> | Result,
): Promise<Result> {
  return inBranchTurn(session.exposed, 'a runner operation', () =>
    attemptInSavepoint(session, settings, operation),
  )
}

async function attemptInSavepoint<Result>(
  session: RunnerSession,
  settings: OperationSettings,
  operation: (session: RunnerSession) => Promise<Result> | Result,
): Promise<Result> {
  refuse(session, settings, true)
  const { connection } = session
  const exit = await session.dialect.enter(connection, `txkit_op_${++savepoints}`, settings)
  let value: Result
  try {
    value = await operation(session)
  } catch (error) {
    const { transient, scope } = classifyError(error)
    if (scope !== 'statement') throw wholeTransaction(session, error)
    try {
      await exit.rollback()
    } catch (rollbackError) {
      // The savepoint is gone with the transaction (MySQL with innodb_rollback_on_timeout, a
      // session that died): the earlier work is lost too.
      if (transient || classifyError(rollbackError).scope !== 'statement') {
        throw wholeTransaction(session, error)
      }
      throw error
    }
    throw error
  }
  try {
    await exit.release()
  } catch (error) {
    if (classifyError(error).scope !== 'statement') throw wholeTransaction(session, error)
    throw error
  }
  return value
}

/** One attempt in a transaction of the runner's own, on a session of the pool. */
async function standalone<Result>(
  session: RunnerSession,
  settings: OperationSettings,
  operation: (session: RunnerSession) => Promise<Result> | Result,
): Promise<Result> {
  const { connection, dialect } = session
  // Whether the session may go back to the pool: its transaction ended and its settings are back.
  let reusable = false
  try {
    refuse(session, settings, false)
    const undo = await dialect.begin(connection, settings)
    let value: Result
    try {
      value = await operation(session)
    } catch (error) {
      reusable =
        classifyError(error).scope !== 'connection' &&
        (await dialect
          .rollback(connection)
          .then(undo)
          .then(
            () => true,
            () => false,
          ))
      throw error
    }
    try {
      await dialect.commit(connection)
    } catch (error) {
      if (classifyError(error).scope === 'connection') {
        throw new CommitOutcomeUnknownError(
          `The connection to ${dialect.name} was lost during COMMIT: the operation may or may not have committed. It is not retried.`,
          { cause: error },
        )
      }
      // A failed COMMIT (a serialization failure at commit, say) has rolled the transaction back.
      reusable = await undo().then(
        () => true,
        () => false,
      )
      throw error
    }
    await undo()
    reusable = true
    return value
  } finally {
    connection.release(!reusable)
  }
}

function refuse(session: RunnerSession, settings: OperationSettings, inside: boolean): void {
  const refusal = session.dialect.refuse(settings, inside)
  if (refusal !== undefined) throw new ConfigurationError(refusal)
}

function wholeTransaction(session: RunnerSession, cause: unknown): RetryTransactionError {
  return new RetryTransactionError(
    `${session.dialect.name} undid the whole transaction (${errorMessage(cause)}): retrying the operation alone would lose the transaction's earlier work. Roll back and rerun the whole transaction (manager.retry does).`,
    { cause },
  )
}
