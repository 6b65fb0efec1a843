import type { AuditRow } from '../../dialect/audit-records.js'
import { AuditLog } from '../../records/audit-log.js'
import { COMMON, DATABASE_HELP, TIMEOUT_HELP, type Values } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { out } from '../output.js'
import { UsageError } from '../usage-error.js'

const MAX_LIMIT = 10_000

/** `txkit audit`: the operators' resolutions, newest first. */
export const auditCommand: Command = {
  name: 'audit',
  help: `Usage: txkit audit --db NAME=URL [--db …] [--audit-db NAME] [--gtrid G] [--limit N] [--json]

Lists the audit table's rows, newest first: when (the database's clock), who, the transaction,
what was asked, the decision row after it, the outcome (resolved, heuristic, refused), why, and
what was done on each database (JSON). Changes nothing.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --audit-db NAME        the database of the audit table (default: the only --db)
  --audit-table NAME     the audit table (default txkit_audit)
  --gtrid G              only the rows of this transaction
  --limit N              at most N rows (default 50, at most ${MAX_LIMIT})
  --json                 print JSON instead of text`,
  options: new Set([...COMMON, 'audit-db', 'audit-table', 'gtrid', 'limit']),
  checkValues: limitOf,
  run: audit,
}

function limitOf(values: Values): number {
  if (values.limit === undefined) return 50
  const limit = Number(values.limit)
  if (!/^[1-9][0-9]*$/.test(values.limit) || limit > MAX_LIMIT) {
    throw new UsageError(`--limit is a whole number from 1 to ${MAX_LIMIT}.`)
  }
  return limit
}

async function audit({ values, connected }: CommandContext): Promise<number> {
  const name = values['audit-db']
  const entry =
    name === undefined
      ? connected.length === 1
        ? connected[0]
        : undefined
      : connected.find((each) => each.database.name === name)
  if (entry === undefined) {
    throw new UsageError(
      name === undefined
        ? 'txkit audit needs --audit-db NAME when more than one --db is given.'
        : `--audit-db ${name} names no --db.`,
    )
  }
  const log = new AuditLog(entry.database, values['audit-table'])
  if (!(await log.exists())) {
    process.stderr.write(
      `txkit: the audit table ${log.tableText} does not exist in database "${entry.database.name}" (txkit init --audit creates it).\n`,
    )
    return EXIT.failed
  }
  const rows = await log.list(values.gtrid, limitOf(values))
  if (values.json) {
    out(
      JSON.stringify(
        rows.map((row) => ({ ...row, at: new Date(row.at).toISOString(), actions: parse(row) })),
        null,
        2,
      ),
    )
  } else {
    out(rows.length === 0 ? 'No resolution recorded.' : rows.map(formatRow).join('\n'))
  }
  return EXIT.done
}

function parse(row: AuditRow): unknown {
  try {
    return JSON.parse(row.actions)
  } catch {
    return row.actions
  }
}

function formatRow(row: AuditRow): string {
  return [
    `#${row.id} ${new Date(row.at).toISOString()} ${row.actor}: ${row.gtrid} --${row.decision} → ${row.outcome.toUpperCase()}, decision row ${row.recorded === null ? 'none' : `'${row.recorded}'`}`,
    `  reason   ${row.reason}`,
    `  actions  ${row.actions}`,
  ].join('\n')
}
