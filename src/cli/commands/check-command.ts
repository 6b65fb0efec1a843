import type { Database } from '../../database/database.js'
import { checkDeployment } from '../../preflight/check-deployment.js'
import { DEFAULT_FENCE_TABLE } from '../../records/fence-table.js'
import { COMMON, DATABASE_HELP, TABLES, TIMEOUT_HELP } from '../cli-options.js'
import type { Command, CommandContext } from '../command.js'
import { decisionDatabaseOf, decisionDatabasesOption } from '../decision-options.js'
import { parseDuration } from '../duration.js'
import { EXIT } from '../exit-codes.js'
import { openStandbys } from '../open-databases.js'
import { out } from '../output.js'
import { concurrencyOf } from '../recover-options.js'
import { UsageError } from '../usage-error.js'

/** `txkit check`: inspects every database before the first transaction; changes nothing. */
export const checkCommand: Command = {
  name: 'check',
  help: `Usage: txkit check --db NAME=URL [--db …] [options]

Inspects every database and reports what would make transactions fail or recovery impossible:
prepared transactions disabled or too few for --concurrency, the decision table or fence tables
missing, a transaction-mode pooler, a Galera node, a decision database with only asynchronous
standbys, a standby with lower settings than its primary, prepared transactions this role cannot
finish, a clock off from this host's, a database that cannot be reached. Each finding has a
severity, an explanation and the fix. Changes nothing. Exit code 1 when any finding is an error,
else 0.

${DATABASE_HELP}
${TIMEOUT_HELP}
  --decision-log NAME    the database holding the decision table: check that it exists
  --decision-databases NAME,NAME
                         the databases keeping decisions: check the table in each
  --table NAME           the decision table (default txkit_decision)
  --fences               check the parallel protocol's fence table in every --db
  --fence-table NAME     its name (default txkit_fence)
  --concurrency N        transactions expected in flight at once with a branch on one server
  --max-clock-skew D     how far a database's clock may be from this host's (default 5s)
  --prefix P             the writers' deployment prefix (default txkit): whose prepared
                         transactions recovery must be able to finish
  --standby DB:NAME=URL  a standby that database DB may fail over to (repeat for each): its
                         settings are compared with DB's. URL as for --db (NAME=env:VAR too)
  --json                 print JSON instead of text`,
  options: new Set([...COMMON, ...TABLES, 'concurrency', 'max-clock-skew', 'prefix', 'standby']),
  run: check,
}

async function check({ values, connected }: CommandContext): Promise<number> {
  const decisionDatabase = decisionDatabaseOf(values, connected)
  const decisionDatabases = decisionDatabasesOption(values, connected)
  if (
    values.table !== undefined &&
    decisionDatabase === undefined &&
    decisionDatabases.length === 0
  ) {
    throw new UsageError('--table names the decision table: add --decision-log NAME.')
  }
  if (values['fence-table'] !== undefined && !values.fences) {
    throw new UsageError('--fence-table names the table --fences checks: add --fences.')
  }
  const concurrency = concurrencyOf(values)
  const standbys = await openStandbys(values, connected)
  const byPrimary: Record<string, Database[]> = {}
  for (const { of, standby } of standbys) {
    byPrimary[of] = [...(byPrimary[of] ?? []), standby.database]
  }
  const result = await checkDeployment({
    databases: connected.map((entry) => entry.database),
    ...(standbys.length > 0 && { standbys: byPrimary }),
    ...(decisionDatabase && {
      decisionLog: {
        database: decisionDatabase,
        ...(values.table !== undefined && { table: values.table }),
      },
    }),
    ...(decisionDatabases.length > 0 && { decisionDatabases }),
    ...(values.fences && { fenceTable: values['fence-table'] ?? DEFAULT_FENCE_TABLE }),
    ...(concurrency !== undefined && { concurrency }),
    ...(values.prefix !== undefined && { prefix: values.prefix }),
    ...(values['max-clock-skew'] !== undefined && {
      maxClockSkew: parseDuration(values['max-clock-skew'], '--max-clock-skew'),
    }),
  }).finally(() =>
    Promise.all(standbys.map(({ standby }) => standby.close().catch(() => undefined))),
  )
  if (values.json) {
    out(JSON.stringify(result))
  } else if (result.findings.length === 0) {
    out(`No findings: ${connected.map((entry) => `"${entry.database.name}"`).join(', ')} ready.`)
  } else {
    for (const finding of result.findings) {
      out(
        `${finding.severity.toUpperCase().padEnd(8)} ${finding.database}  ${finding.code}: ${finding.message}\n         fix: ${finding.fix}`,
      )
    }
  }
  return result.ok ? EXIT.done : EXIT.failed
}
