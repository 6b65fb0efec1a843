import type { ShownBranch, TransactionDetail } from '../../recovery/show-transaction.js'
import { showTransaction } from '../../recovery/show-transaction.js'
import { COMMON, DATABASE_HELP, TIMEOUT_HELP } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { decisionDatabaseOf, decisionDatabasesOption } from '../decision-options.js'
import { EXIT } from '../exit-codes.js'
import { age } from '../format-report.js'
import { out } from '../output.js'
import { transactionIdArgument } from '../transaction-id-argument.js'

const OUTCOMES = {
  C: "'C': commit",
  A: "'A': abort",
  S: "'S': staged (parallel protocol: recovery turns it into 'C' if every branch is prepared, else 'A')",
} as const

const STATES = {
  'in-doubt': (branches: number) => `IN DOUBT: ${branches} branch(es) prepared`,
  finished: () => 'finished: no branch prepared',
  unknown: () => 'UNKNOWN: no branch found, but a database could not be read',
} as const

/**
 * `txkit show <gtrid>`: one transaction's branches per database, its decision and where it is
 * kept, its protocol and age, and what it blocks. Changes nothing.
 */
export const showCommand: Command = {
  name: 'show',
  help: `Usage: txkit show <gtrid> --db NAME=URL [--db …] [options]

Shows one transaction: each database's branch (prepared or not found, its id, who prepared it
and when where the server says), its decision and where it is kept, its protocol and age, and
what it blocks: the locks its prepared branches hold and the sessions waiting for them. Changes
nothing. <gtrid> is the id status and recover print (a branch id of it is taken too).
Exit codes: 0 nothing of it in doubt (finished, or no branch and no decision found: a finished
transaction whose decision row was collected looks the same as a wrong id); 3 a branch is
prepared (in doubt); 1 a database or its decision could not be read; 2 a usage error, or not a
txkit transaction id.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --decision-log NAME    the database holding the decision table
  --decision-databases NAME,NAME
                         the writers' decisionDatabases: the decision is read in the one
                         the id names
  --table NAME           the decision table (default txkit_decision)
  --fence-table NAME     the parallel protocol's fence table (default txkit_fence)
  --prefix P             the writers' deployment prefix (default: the id's own)
  --json                 print JSON instead of text`,
  options: new Set([
    ...COMMON,
    'decision-log',
    'decision-databases',
    'table',
    'fence-table',
    'prefix',
  ]),
  positionals: true,
  checkPositionals: (positionals) => transactionIdArgument('show', positionals),
  run: show,
}

async function show({ values, positionals, connected }: CommandContext): Promise<number> {
  const gtrid = transactionIdArgument('show', positionals)
  const decisionLog = decisionDatabaseOf(values, connected)
  const decisionDatabases = decisionDatabasesOption(values, connected)
  const detail = await showTransaction({
    databases: connected.map((entry) => entry.database),
    gtrid,
    ...(decisionLog && {
      decisionLog:
        values.table === undefined ? decisionLog : { database: decisionLog, table: values.table },
    }),
    ...(decisionDatabases.length > 0 && { decisionDatabases }),
    ...(values.prefix !== undefined && { prefix: values.prefix }),
    ...(values['fence-table'] !== undefined && { fenceTable: values['fence-table'] }),
  })
  out(values.json ? JSON.stringify(detail, null, 2) : formatDetail(detail))
  if (detail.databases.some((each) => each.error !== undefined) || detail.decision.error) {
    return EXIT.failed
  }
  return detail.state === 'in-doubt' ? EXIT.later : EXIT.done
}

/** The text view of `txkit show`. */
export function formatDetail(detail: TransactionDetail): string {
  const lines = [
    `Transaction ${detail.gtrid}`,
    `  protocol   ${detail.protocol === 'decision' ? 'decision (or parallel: the same ids)' : 'sequential'}`,
    `  began      ${detail.startedAt === undefined ? 'unknown (a sequential id carries no time)' : new Date(detail.startedAt).toISOString()}`,
    `  age        ${detail.ageMs === undefined ? 'unknown' : age(detail.ageMs)}`,
    `  state      ${STATES[detail.state](detail.branches.length)}`,
    `  decision   ${decisionText(detail)}`,
  ]
  const { decision } = detail
  if (decision.fenceTable !== undefined) lines.push(`  fences in  ${decision.fenceTable}`)
  if (decision.note !== undefined) lines.push(`             (${decision.note})`)
  if (detail.branches.length === 0 && decision.outcome == null && decision.error === undefined) {
    lines.push(
      '  No branch and no decision found: it finished (and its decision row was collected), never reached its prepare, or the id is not one of these databases’.',
    )
  }
  lines.push('Databases:')
  const width = Math.max(...detail.databases.map((each) => each.name.length))
  for (const database of detail.databases) {
    const state =
      database.state === 'error'
        ? `COULD NOT BE READ ${database.error ?? ''}`
        : database.sameServerAs !== undefined
          ? `same server as ${database.sameServerAs}, whose list of prepared transactions covers it`
          : database.state === 'prepared'
            ? 'prepared'
            : 'no branch prepared'
    lines.push(`  ${database.name.padEnd(width)}  ${state}`)
  }
  for (const branch of detail.branches) lines.push(...branchLines(branch))
  return lines.join('\n')
}

function decisionText({ decision, protocol }: TransactionDetail): string {
  if (decision.kept === 'none') return 'none kept (sequential protocol)'
  const where =
    decision.table === undefined
      ? `decision log "${decision.database ?? '?'}"`
      : `table ${decision.table} of database ${decision.database}`
  if (decision.error !== undefined) return `UNKNOWN (${where}): ${decision.error}`
  if (decision.outcome === null || decision.outcome === undefined) {
    return `no decision row, in ${where}${protocol === 'decision' ? ' (recover records abort, unless the transaction is older than the table)' : ''}`
  }
  return `${OUTCOMES[decision.outcome]}, in ${where}`
}

function branchLines(branch: ShownBranch): string[] {
  const count = branch.count === 0 ? 'of an open transaction' : `of ${branch.count}`
  const lines = [
    `Branch ${branch.index} ${count} on ${branch.database}${branch.participant ? ` (the decision row names ${branch.participant})` : ''}: PREPARED`,
    `  xid          ${branch.xid}`,
    `  prepared by  ${branch.owner ?? 'unknown'}`,
    `  prepared at  ${branch.preparedAt === undefined ? 'unknown' : `${new Date(branch.preparedAt).toISOString()} (${age(Date.now() - branch.preparedAt)} ago)`}`,
  ]
  if (branch.locks === undefined) lines.push('  locks        unknown')
  else if (branch.locks.length === 0) lines.push('  locks        none shown')
  for (const [position, lock] of (branch.locks ?? []).entries()) {
    const label = position === 0 ? 'locks      ' : '           '
    const what = lock.type === 'relation' ? '' : `(${lock.type}) `
    lines.push(
      `  ${label}  ${lock.relation === undefined ? '' : `${lock.relation} `}${what}${lock.mode}`,
    )
  }
  if (branch.waiting === undefined) lines.push('  waiting      unknown')
  else if (branch.waiting.length === 0) lines.push('  waiting      no session waits for it')
  for (const waiter of branch.waiting ?? []) {
    const since =
      waiter.waitingSince === undefined ? '' : ` for ${age(Date.now() - waiter.waitingSince)}`
    lines.push(
      `  WAITING      session ${waiter.session}${waiter.user ? ` (${waiter.user})` : ''} on ${waiter.relation ?? '?'}${since}: ${waiter.query ?? '?'}`,
    )
  }
  for (const unknown of branch.unknown) lines.push(`  not told     ${unknown}`)
  return lines
}
