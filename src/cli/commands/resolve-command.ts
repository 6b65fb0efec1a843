import {
  MAX_ACTOR,
  MAX_REASON,
  type Resolution,
  resolveTransaction,
} from '../../recovery/resolve-transaction.js'
import { parseGtrid } from '../../xid/xid.js'
import { COMMON, DATABASE_HELP, TIMEOUT_HELP, type Values } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { decisionDatabaseOf, decisionDatabasesOption } from '../decision-options.js'
import { EXIT } from '../exit-codes.js'
import { out } from '../output.js'
import { transactionIdArgument } from '../transaction-id-argument.js'
import { UsageError } from '../usage-error.js'

/**
 * `txkit resolve <gtrid> --commit|--rollback --reason "…"`: an operator's decision for one
 * in-doubt transaction, recorded in its decision log first, then carried out; audited.
 */
export const resolveCommand: Command = {
  name: 'resolve',
  help: `Usage: txkit resolve <gtrid> --commit|--rollback --reason "…" --db NAME=URL [--db …] [options]

Records an operator's decision for one in-doubt transaction and finishes its prepared branches
(COMMIT PREPARED / ROLLBACK PREPARED, XA COMMIT / XA ROLLBACK). The decision is written first in
the decision log its id names, as recovery writes it ('A' as recovery inserts it, 'C' if no row
is there), so a coordinator or recovery that comes back follows it. It never contradicts a
recorded decision. Needs the audit table (txkit init --audit): every resolution, refusals too,
is written there (txkit audit lists them).
Heuristic (refused without --heuristic): committing with no decision row; rolling back with no
decision row a transaction older than its decision table; for the sequential protocol, any of
the id's branches prepared nowhere. See docs/recovery-and-cli.md.
Exit codes: 0 resolved, every branch finished; 1 refused, or a branch not finished, or a
database failed; 2 a usage error.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --commit | --rollback  the decision (exactly one)
  --reason TEXT          why (required, at most ${MAX_REASON} characters): kept in the audit table
  --actor NAME           who (default the OS user), at most ${MAX_ACTOR} characters
  --heuristic            proceed although what became of a finished branch is not known
  --decision-log NAME    the database holding the decision table
  --decision-databases NAME,NAME
                         the writers' decisionDatabases: the one the id names is used
  --table NAME           the decision table (default txkit_decision)
  --prefix P             the writers' deployment prefix (default: the id's own)
  --audit-db NAME        the database of the audit table (default: the decision database
                         the id names; required for a sequential id)
  --audit-table NAME     the audit table (default txkit_audit)
  --json                 print JSON instead of text`,
  options: new Set([
    ...COMMON,
    'decision-log',
    'decision-databases',
    'table',
    'prefix',
    'commit',
    'rollback',
    'heuristic',
    'reason',
    'actor',
    'audit-db',
    'audit-table',
  ]),
  positionals: true,
  checkPositionals: (positionals) => transactionIdArgument('resolve', positionals),
  checkValues,
  run: resolve,
}

function checkValues(values: Values): void {
  if (values.commit === values.rollback) {
    throw new UsageError('txkit resolve needs exactly one of --commit and --rollback.')
  }
  const reason = values.reason?.trim() ?? ''
  if (reason === '') throw new UsageError('txkit resolve needs --reason "…": why, for the audit.')
  if (reason.length > MAX_REASON) {
    throw new UsageError(`--reason is at most ${MAX_REASON} characters.`)
  }
  if (
    values.actor !== undefined &&
    (values.actor.trim() === '' || values.actor.length > MAX_ACTOR)
  ) {
    throw new UsageError(`--actor is 1 to ${MAX_ACTOR} characters.`)
  }
}

async function resolve({
  values,
  positionals,
  connected,
  logger,
}: CommandContext): Promise<number> {
  const gtrid = transactionIdArgument('resolve', positionals)
  checkValues(values)
  const decisionLog = decisionDatabaseOf(values, connected)
  const decisionDatabases = decisionDatabasesOption(values, connected)
  const auditName = values['audit-db']
  const auditDatabase =
    auditName === undefined
      ? undefined
      : (connected.find((entry) => entry.database.name === auditName)?.database ??
        (() => {
          throw new UsageError(`--audit-db ${auditName} names no --db.`)
        })())
  if (values.prefix !== undefined && parseGtrid(gtrid)?.prefix !== values.prefix) {
    throw new UsageError(`The transaction id's prefix is not "${values.prefix}".`)
  }
  const result = await resolveTransaction({
    databases: connected.map((entry) => entry.database),
    gtrid,
    decision: values.commit ? 'commit' : 'rollback',
    reason: values.reason ?? '',
    ...(values.actor !== undefined && { actor: values.actor }),
    ...(values.heuristic === true && { heuristic: true }),
    ...(decisionLog && {
      decisionLog:
        values.table === undefined ? decisionLog : { database: decisionLog, table: values.table },
    }),
    ...(decisionDatabases.length > 0 && { decisionDatabases }),
    ...(auditDatabase !== undefined && { auditDatabase }),
    ...(values['audit-table'] !== undefined && { auditTable: values['audit-table'] }),
    logger,
  })
  out(values.json ? JSON.stringify(result, null, 2) : formatResolution(result))
  return result.outcome !== 'refused' && result.finished && result.auditError === undefined
    ? EXIT.done
    : EXIT.failed
}

const RECORDED = { C: "'C' (commit)", A: "'A' (abort)", S: "'S' (staged)" } as const

/** The text view of `txkit resolve`. */
export function formatResolution(result: Resolution): string {
  const head =
    result.outcome === 'refused'
      ? 'REFUSED, nothing changed'
      : `${result.outcome === 'heuristic' ? 'HEURISTIC' : 'RESOLVED'}: ${result.decision === 'commit' ? 'committed' : 'rolled back'}${result.finished ? '' : ' (NOT every branch finished)'}`
  const before = result.recordedBefore
  const after = result.recorded
  const decision =
    before === undefined
      ? 'none kept (sequential protocol)'
      : before === (after ?? null)
        ? before === null
          ? 'no decision row'
          : `${RECORDED[before]}, already recorded`
        : `${after == null ? 'none' : RECORDED[after]} recorded now (before: ${before === null ? 'none' : RECORDED[before]})`
  const lines = [
    `Transaction ${result.gtrid}: ${head}`,
    `  decision   ${decision}`,
    `  asked      --${result.decision}`,
    `  actor      ${result.actor}`,
    `  reason     ${result.reason}`,
  ]
  if (result.refusal !== undefined) lines.push(`  refused    ${result.refusal}`)
  for (const risk of result.risks) lines.push(`  risk       ${risk}`)
  lines.push('Databases:')
  const width = Math.max(...result.databases.map((each) => each.name.length))
  for (const database of result.databases) {
    const found =
      database.found === 'error'
        ? `COULD NOT BE READ ${database.error ?? ''}`
        : database.sameServerAs !== undefined
          ? `same server as ${database.sameServerAs}`
          : database.found === 'prepared'
            ? 'prepared'
            : 'no branch prepared'
    const done = database.actions.map(
      (action) =>
        `${action.action.toUpperCase().replace('-', ' ')} ${action.xid}${action.error ? ` (${action.error})` : ''}`,
    )
    lines.push(`  ${database.name.padEnd(width)}  ${[found, ...done].join('; ')}`)
  }
  lines.push(
    result.auditError === undefined
      ? `Audit row written to ${result.audit}.`
      : `AUDIT ROW NOT WRITTEN to ${result.audit}: ${result.auditError}`,
  )
  return lines.join('\n')
}
