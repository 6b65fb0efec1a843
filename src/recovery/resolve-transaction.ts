import { userInfo } from 'node:os'
import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { AuditEntry, AuditOutcome } from '../dialect/audit-records.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { AuditLog } from '../records/audit-log.js'
import type { DecisionLog } from '../records/decision-log.js'
import { readRows } from '../records/decision-rows.js'
import { errorMessage } from '../util/error-message.js'
import { parseGtrid } from '../xid/xid.js'
import { checkOptions, type RecoverOptions } from './recover-options.js'
import { judge } from './resolve-rules.js'
import { showTransaction, type TransactionDetail } from './show-transaction.js'

/** The longest `reason` and `actor` kept. */
export const MAX_REASON = 500
export const MAX_ACTOR = 100
/** A deadline no clock reaches: the operator's 'C' is not bounded by the coordinator's. */
const NO_DEADLINE = 8_640_000_000_000_000

/** What `resolveTransaction` is asked: the deployment as for `recover()`, one transaction, a choice. */
export interface ResolveOptions
  extends Pick<
    RecoverOptions,
    'databases' | 'decisionLog' | 'decisionDatabases' | 'prefix' | 'logger' | 'lockTimeout'
  > {
  readonly gtrid: string
  readonly decision: 'commit' | 'rollback'
  /** Why (kept in the audit table): required, at most {@link MAX_REASON} characters. */
  readonly reason: string
  /** Who; default the OS user. */
  readonly actor?: string
  /** Proceed even when the outcome of a finished branch is not known (see `judge`). */
  readonly heuristic?: boolean
  /** The audit table's database; default the decision database the id names. */
  readonly auditDatabase?: Database
  readonly auditTable?: string
}

/** What was done with one branch. */
export interface BranchAction {
  readonly xid: string
  readonly index: number
  /** `gone`: no longer prepared when asked (another session finished it meanwhile). */
  readonly action: 'committed' | 'rolled-back' | 'gone' | 'left' | 'failed'
  readonly error?: string
}

/** One database of the deployment, as resolved. */
export interface ResolvedDatabase {
  readonly name: string
  /** What it held of the transaction before: `prepared`, `not-found` (no branch), `error`. */
  readonly found: 'prepared' | 'not-found' | 'error'
  readonly sameServerAs?: string
  /** Why it could not be read (names its host, never a password). */
  readonly error?: string
  readonly actions: readonly BranchAction[]
}

/** How one resolution ended; also the audit table's row. */
export interface Resolution {
  readonly gtrid: string
  readonly protocol: TransactionDetail['protocol']
  readonly decision: 'commit' | 'rollback'
  readonly actor: string
  readonly reason: string
  readonly outcome: AuditOutcome
  /** The decision row before and after ('C', 'A', 'S'); null none; undefined: none kept or unread. */
  readonly recordedBefore?: 'C' | 'A' | 'S' | null
  readonly recorded?: 'C' | 'A' | 'S' | null
  /** Why it was refused. */
  readonly refusal?: string
  /** What made it heuristic (or would have, when refused for want of `heuristic`). */
  readonly risks: readonly string[]
  /** Every branch finished as decided. */
  readonly finished: boolean
  readonly databases: readonly ResolvedDatabase[]
  /** Where the audit row is: `table in database`. */
  readonly audit: string
  /** Why the audit row could not be written (what was done is still as said). */
  readonly auditError?: string
}

/**
 * Records an operator's decision for one in-doubt transaction and finishes its prepared branches
 * accordingly; refuses to contradict a recorded decision; writes an audit row every time (refusals
 * too). The decision row is written first, as recovery writes it, so that a coordinator or a
 * recovery that comes back follows it.
 *
 * @throws ConfigurationError on a bad id, reason or actor; Error when the audit table is missing.
 */
export async function resolveTransaction(options: ResolveOptions): Promise<Resolution> {
  const { reason, actor } = checkResolve(options)
  const id = parseGtrid(options.gtrid)
  if (id === undefined) throw new ConfigurationError(`"${options.gtrid}" is not a txkit id.`)
  const settings = checkOptions({
    databases: options.databases,
    ...(options.decisionLog !== undefined && { decisionLog: options.decisionLog }),
    ...(options.decisionDatabases !== undefined && {
      decisionDatabases: options.decisionDatabases,
    }),
    ...(options.logger !== undefined && { logger: options.logger }),
    ...(options.lockTimeout !== undefined && { lockTimeout: options.lockTimeout }),
    prefix: id.prefix,
    protocol: 'sequential',
  })
  const decisionLog =
    id.kind === 'sequential'
      ? undefined
      : id.decisionLog === undefined
        ? settings.decisionLog
        : settings.decisionLogs.find((log) => log.tag === id.decisionLog)
  const auditDatabase = options.auditDatabase ?? decisionLog?.database
  if (auditDatabase === undefined) {
    throw new ConfigurationError(
      id.kind === 'sequential'
        ? 'A sequential transaction keeps no decision database: name the database of the audit table (--audit-db).'
        : `Its id names the decision log "${id.decisionLog ?? '(the decision log)'}", which was not given: pass it, or the database of the audit table (--audit-db).`,
    )
  }
  const audit = new AuditLog(auditDatabase, options.auditTable)
  if (!(await audit.exists())) {
    // Not a usage error: the deployment lacks the table (exit 1 on the command line).
    throw new Error(
      `The audit table ${audit.tableText} does not exist in database "${auditDatabase.name}": create it first (txkit init --audit, or createAuditTable()); nothing was changed.`,
    )
  }
  const detail = await showTransaction({
    databases: settings.databases,
    gtrid: id.gtrid,
    ...(options.decisionLog !== undefined && { decisionLog: options.decisionLog }),
    ...(options.decisionDatabases !== undefined && {
      decisionDatabases: options.decisionDatabases,
    }),
  })
  const recordedBefore = detail.decision.kept === 'none' ? undefined : detail.decision.outcome
  const tableState =
    decisionLog === undefined || recordedBefore !== null
      ? undefined
      : await withConnection(decisionLog.database, (connection) =>
          decisionLog.database.dialect.describeDecisionLog(connection, decisionLog.table),
        )
  const judged = judge(detail, options.decision, tableState?.createdAt)
  const base = {
    gtrid: id.gtrid,
    protocol: detail.protocol,
    decision: options.decision,
    actor,
    reason,
    ...(recordedBefore !== undefined && { recordedBefore }),
    risks: judged.risks,
    audit: `${audit.tableText} in database "${auditDatabase.name}"`,
  }
  const untouched = detail.databases.map((each) => ({
    name: each.name,
    found: each.state,
    ...(each.sameServerAs !== undefined && { sameServerAs: each.sameServerAs }),
    ...(each.error !== undefined && { error: each.error }),
    actions: [],
  }))
  const refuse = async (refusal: string, recorded = recordedBefore): Promise<Resolution> => {
    const result: Resolution = {
      ...base,
      ...(recorded !== undefined && { recorded }),
      outcome: 'refused',
      refusal,
      finished: false,
      databases: untouched,
    }
    return writeAudit(audit, result)
  }
  if (judged.refusal !== undefined) return refuse(judged.refusal)
  if (judged.risks.length > 0 && options.heuristic !== true) {
    return refuse(
      'the outcome is not certain (see the risks): add --heuristic to proceed as a heuristic decision',
    )
  }
  let recorded = recordedBefore
  if (decisionLog !== undefined && recordedBefore === null) {
    const answer = await recordDecision(decisionLog, id.gtrid, options.decision, detail, settings)
    if (answer.refusal !== undefined) return refuse(answer.refusal, answer.recorded)
    recorded = answer.recorded
  }
  const databases = await finishBranches(detail, settings.databases, options.decision, untouched)
  const finished = databases.every((each) =>
    each.actions.every((action) => action.action !== 'left' && action.action !== 'failed'),
  )
  const result: Resolution = {
    ...base,
    ...(recorded !== undefined && { recorded }),
    outcome: judged.risks.length > 0 ? 'heuristic' : 'resolved',
    finished,
    databases,
  }
  return writeAudit(audit, result)
}

function checkResolve(options: ResolveOptions): { reason: string; actor: string } {
  if (options.decision !== 'commit' && options.decision !== 'rollback') {
    throw new ConfigurationError('The decision is "commit" or "rollback".')
  }
  const reason = typeof options.reason === 'string' ? options.reason.trim() : ''
  if (reason === '') throw new ConfigurationError('A resolution needs a reason (--reason "…").')
  if (reason.length > MAX_REASON) {
    throw new ConfigurationError(`The reason is at most ${MAX_REASON} characters.`)
  }
  const actor = (options.actor ?? userInfo().username).trim()
  if (actor === '' || actor.length > MAX_ACTOR) {
    throw new ConfigurationError(`The actor is 1 to ${MAX_ACTOR} characters.`)
  }
  return { reason, actor }
}

/** Inserts 'A' as recovery does, or 'C' if absent; answers what the row says after. */
async function recordDecision(
  decisionLog: DecisionLog,
  gtrid: string,
  decision: 'commit' | 'rollback',
  detail: TransactionDetail,
  settings: ReturnType<typeof checkOptions>,
): Promise<{ recorded: 'C' | 'A' | 'S' | null; refusal?: string }> {
  // 'A' as recovery writes it (the databases); 'C' as a coordinator does (a name per branch index).
  const count = Math.max(detail.branches[0]?.count ?? 0, ...detail.branches.map((b) => b.index + 1))
  const participants = JSON.stringify(
    decision === 'rollback'
      ? [...new Set(detail.branches.map((each) => each.database))]
      : Array.from(
          { length: count },
          (_, index) => detail.branches.find((each) => each.index === index)?.database ?? '',
        ),
  )
  const { dialect } = decisionLog.database
  const answer = await withConnection(decisionLog.database, (connection) =>
    decision === 'rollback'
      ? dialect.insertAbortDecision(
          connection,
          decisionLog.table,
          gtrid,
          participants,
          settings.lockTimeout,
        )
      : dialect.insertCommitDecision(
          connection,
          decisionLog.table,
          gtrid,
          participants,
          NO_DEADLINE,
          'C',
        ),
  )
  if (answer === 'inserted') return { recorded: decision === 'commit' ? 'C' : 'A' }
  if (answer === 'busy') {
    return {
      recorded: null,
      refusal:
        "its coordinator's commit decision is still open (the decision row is locked): it is alive; nothing was changed",
    }
  }
  // A decision was recorded meanwhile: follow it if it agrees, else refuse.
  const row = (await readRows(decisionLog, [gtrid])).get(gtrid)
  const now = row?.outcome ?? null
  if (now === (decision === 'commit' ? 'C' : 'A')) return { recorded: now }
  return {
    recorded: now,
    refusal: `a decision was recorded meanwhile (${now === null ? 'and removed' : `'${now}'`}): nothing was changed; look again (txkit show)`,
  }
}

async function finishBranches(
  detail: TransactionDetail,
  databases: readonly Database[],
  decision: 'commit' | 'rollback',
  shown: readonly ResolvedDatabase[],
): Promise<ResolvedDatabase[]> {
  const ordered = [...detail.branches].sort((a, b) =>
    decision === 'commit' ? a.index - b.index : b.index - a.index,
  )
  const actions = new Map<string, BranchAction[]>()
  for (const branch of ordered) {
    const database = databases.find((each) => each.name === branch.database) as Database
    const base = { xid: branch.xid, index: branch.index }
    let action: BranchAction
    try {
      const answer = await withConnection(database, (connection) =>
        decision === 'commit'
          ? database.dialect.commitPrepared(connection, branch.xid)
          : database.dialect.rollbackPrepared(connection, branch.xid),
      )
      action =
        answer === 'done'
          ? { ...base, action: decision === 'commit' ? 'committed' : 'rolled-back' }
          : answer === 'not-found' && !database.dialect.preparedBranchMayStayAttached
            ? {
                ...base,
                action: 'gone',
                error: 'no longer prepared: another session finished it meanwhile',
              }
            : {
                ...base,
                action: 'left',
                error:
                  answer === 'busy'
                    ? 'another session is finishing it'
                    : 'still attached to the session that prepared it (or finished concurrently)',
              }
    } catch (error) {
      action = { ...base, action: 'failed', error: errorMessage(error) }
    }
    actions.set(branch.database, [...(actions.get(branch.database) ?? []), action])
  }
  return shown.map((each) => ({ ...each, actions: actions.get(each.name) ?? [] }))
}

/** Writes the audit row; a failure is told in the result, never hides what was done. */
async function writeAudit(audit: AuditLog, result: Resolution): Promise<Resolution> {
  try {
    await audit.write(auditEntry(result))
    return result
  } catch (error) {
    return { ...result, auditError: `(${audit.database.identity}) ${errorMessage(error)}` }
  }
}

function auditEntry(result: Resolution): AuditEntry {
  return {
    actor: result.actor,
    reason: result.reason,
    gtrid: result.gtrid,
    decision: result.decision,
    recorded: result.recorded ?? null,
    outcome: result.outcome,
    actions: JSON.stringify({
      databases: result.databases,
      risks: result.risks,
      ...(result.refusal !== undefined && { refusal: result.refusal }),
    }),
  }
}
