import { outboxTables } from '../../dialect/outbox-store-dialect.js'
import { AuditLog } from '../../records/audit-log.js'
import { DecisionLog } from '../../records/decision-log.js'
import { DEFAULT_FENCE_TABLE, FenceTable } from '../../records/fence-table.js'
import { createOutboxTables } from '../../records/outbox-tables.js'
import { COMMON, DATABASE_HELP, TABLES, TIMEOUT_HELP } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { decisionDatabaseOf, decisionDatabasesOption } from '../decision-options.js'
import { EXIT } from '../exit-codes.js'
import { out } from '../output.js'
import { UsageError } from '../usage-error.js'

/** `txkit init`: creates the decision table, and with --fences the fence tables (or prints their SQL). */
export const initCommand: Command = {
  name: 'init',
  help: `Usage: txkit init --db NAME=URL (--decision-log NAME | --decision-databases A,B) [--table NAME]
                  [--fences] [--outbox [--outbox-table T]] [--audit] [--print-sql]
       txkit init --db NAME=URL [--db …] --outbox [--outbox-table T] [--print-sql]
       txkit init --db NAME=URL --audit --audit-db NAME [--audit-table T] [--print-sql]

Creates the decision table (if it does not exist) in the decision database, and in each of
--decision-databases; with --fences, the parallel protocol's fence table in every --db too;
with --outbox, the outbox tables (messages and keys) in every --db (alone, without a decision
table, when no decision database is named); with --audit, the audit table of txkit resolve in
--audit-db, else in each decision database.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --decision-log NAME    which of the databases holds it
  --decision-databases NAME,NAME
                         the databases that keep the decisions of their own transactions
  --table NAME           table name, or schema.table (default txkit_decision)
  --fences               also create the fence table in every --db (parallel protocol)
  --fence-table NAME     its name, or schema.table (default txkit_fence)
  --outbox               also create the outbox tables in every --db (tx.outbox.send, txkit relay)
  --outbox-table NAME    the outbox table, or schema.table (default txkit_outbox; its key table
                         is NAME_key)
  --audit                also create the audit table (txkit resolve, txkit audit)
  --audit-db NAME        where (default: each decision database)
  --audit-table NAME     its name, or schema.table (default txkit_audit)
  --print-sql            print the statements instead of running them (for migration tools:
                         idempotent; on PostgreSQL they stamp the table's creation time)`,
  options: new Set([
    ...COMMON,
    ...TABLES,
    'print-sql',
    'outbox',
    'outbox-table',
    'audit',
    'audit-db',
    'audit-table',
  ]),
  run: init,
}

async function init(context: CommandContext): Promise<number> {
  const { values } = context
  if (values['outbox-table'] !== undefined && !values.outbox) {
    throw new UsageError('--outbox-table names the table --outbox creates: add --outbox.')
  }
  if ((values['audit-db'] !== undefined || values['audit-table'] !== undefined) && !values.audit) {
    throw new UsageError(
      '--audit-db and --audit-table name the table --audit creates: add --audit.',
    )
  }
  const decisions =
    values['decision-log'] !== undefined || values['decision-databases'] !== undefined
  if (values.audit && !decisions && !values.outbox) return initAudit(context, false)
  const code =
    values.outbox && !decisions ? await initOutbox(context, false) : await initDecisions(context)
  if (values.outbox && decisions) await initOutbox(context, true)
  return values.audit ? initAudit(context, true) : code
}

/** `--audit`: the audit table in --audit-db, else in each decision database; or its SQL. */
async function initAudit({ values, connected }: CommandContext, after: boolean): Promise<number> {
  const named = values['audit-db']
  const databases =
    named === undefined
      ? [
          ...new Set([
            ...[decisionDatabaseOf(values, connected)].filter((each) => each !== undefined),
            ...decisionDatabasesOption(values, connected).map((entry) => entry.database),
          ]),
        ]
      : [
          connected.find((entry) => entry.database.name === named)?.database ??
            (() => {
              throw new UsageError(`--audit-db ${named} names no --db.`)
            })(),
        ]
  if (databases.length === 0) {
    throw new UsageError('txkit init --audit needs --audit-db NAME (or a decision database).')
  }
  const logs = databases.map((database) => new AuditLog(database, values['audit-table']))
  if (values['print-sql']) {
    for (const [position, log] of logs.entries()) {
      out(
        `${position === 0 && !after ? '' : '\n'}-- ${log.database.name}\n${log.sql().join(';\n\n')};`,
      )
    }
    return EXIT.done
  }
  for (const log of logs) await log.create()
  const names = logs.map((log) => `"${log.database.name}"`).join(', ')
  const table = logs[0]?.tableText ?? ''
  out(
    values.json
      ? JSON.stringify({ audit: table, in: logs.map((log) => log.database.name) })
      : `Audit table ${table} is ready in ${names}.`,
  )
  return EXIT.done
}

async function initDecisions({ values, connected, logger }: CommandContext): Promise<number> {
  const decisionDatabase = decisionDatabaseOf(values, connected)
  const logs = [
    ...(decisionDatabase === undefined ? [] : [{ database: decisionDatabase }]),
    ...decisionDatabasesOption(values, connected).filter(
      (entry) => entry.database !== decisionDatabase,
    ),
  ].map(
    (entry) =>
      new DecisionLog(
        { database: entry.database, ...(values.table !== undefined && { table: values.table }) },
        logger,
      ),
  )
  if (logs.length === 0) {
    throw new UsageError(
      'txkit init needs --decision-log NAME (or --decision-databases NAME,NAME), or --outbox.',
    )
  }
  if (values['fence-table'] !== undefined && !values.fences) {
    throw new UsageError('--fence-table names the table --fences creates: add --fences.')
  }
  const fences = values.fences
    ? new FenceTable(values['fence-table'] ?? DEFAULT_FENCE_TABLE, logger)
    : undefined
  if (values['print-sql']) {
    for (const [position, log] of logs.entries()) {
      out(
        `${position === 0 ? '' : '\n'}-- ${log.database.name}\n${log.database.dialect.decisionLogSql(log.table).join(';\n\n')};`,
      )
    }
    for (const { database: each } of fences === undefined ? [] : connected) {
      const sql = FenceTable.dialectOf(each).tableSql((fences as FenceTable).table)
      out(`\n-- ${each.name}\n${sql.join(';\n\n')};`)
    }
    return EXIT.done
  }
  for (const log of logs) await log.create()
  for (const { database: each } of fences === undefined ? [] : connected) {
    await fences?.create(each)
  }
  const tableText = logs[0]?.tableText ?? ''
  const names = logs.map((log) => log.database.name)
  out(
    values.json
      ? JSON.stringify({
          created: tableText,
          database: names[0],
          ...(names.length > 1 && { databases: names }),
          ...(fences && {
            fences: fences.tableText,
            in: connected.map((each) => each.database.name),
          }),
        })
      : `Decision table ${tableText} is ready in ${names.map((name) => `"${name}"`).join(', ')}.${fences === undefined ? '' : ` Fence table ${fences.tableText} is ready in ${connected.map((each) => `"${each.database.name}"`).join(', ')}.`}`,
  )
  return EXIT.done
}

/** `--outbox`: the outbox tables in every --db, or their SQL. */
async function initOutbox({ values, connected }: CommandContext, after: boolean): Promise<number> {
  const tables = outboxTables(values['outbox-table'])
  for (const { database } of connected) {
    if (database.dialect.outbox === undefined) {
      throw new UsageError(`Database "${database.name}" cannot hold an outbox.`)
    }
  }
  if (values['print-sql']) {
    for (const [position, { database }] of connected.entries()) {
      const sql = database.dialect.outbox?.tablesSql(tables) ?? []
      out(`${position === 0 && !after ? '' : '\n'}-- ${database.name}\n${sql.join(';\n\n')};`)
    }
    return EXIT.done
  }
  for (const { database } of connected) {
    await createOutboxTables(
      database,
      values['outbox-table'] === undefined ? {} : { table: values['outbox-table'] },
    )
  }
  const names = connected.map(({ database }) => database.name)
  const table =
    tables.table.schema === undefined
      ? tables.table.name
      : `${tables.table.schema}.${tables.table.name}`
  out(
    values.json
      ? JSON.stringify({ outbox: table, in: names })
      : `Outbox table ${table} is ready in ${connected
          .map(({ database }) =>
            database.dialect.outbox?.keyTable === true
              ? `"${database.name}" (with its key table ${tables.keyTable.name})`
              : `"${database.name}"`,
          )
          .join(', ')}.`,
  )
  return EXIT.done
}
