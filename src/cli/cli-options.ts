import type { parseArgs } from 'node:util'

/** Every option of every command: parsed once, then checked against the command's own. */
export const OPTIONS = {
  db: { type: 'string', multiple: true },
  driver: { type: 'string', multiple: true },
  'decision-log': { type: 'string' },
  'decision-databases': { type: 'string' },
  table: { type: 'string' },
  prefix: { type: 'string' },
  protocol: { type: 'string' },
  'min-age': { type: 'string' },
  json: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  concurrency: { type: 'string' },
  interval: { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'connect-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  'print-sql': { type: 'boolean' },
  fences: { type: 'boolean' },
  'fence-table': { type: 'string' },
  'max-clock-skew': { type: 'string' },
  standby: { type: 'string', multiple: true },
  config: { type: 'string' },
  outbox: { type: 'boolean' },
  'outbox-table': { type: 'string' },
  state: { type: 'string' },
  id: { type: 'string', multiple: true },
  'all-dead': { type: 'boolean' },
  'older-than': { type: 'string' },
  limit: { type: 'string' },
  commit: { type: 'boolean' },
  rollback: { type: 'boolean' },
  heuristic: { type: 'boolean' },
  reason: { type: 'string' },
  actor: { type: 'string' },
  audit: { type: 'boolean' },
  'audit-db': { type: 'string' },
  'audit-table': { type: 'string' },
  gtrid: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** The options as parsed. */
export type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: false }>
>['values']

/** The options every command that connects takes. */
export const COMMON = ['db', 'driver', 'json', 'help', 'connect-timeout', 'statement-timeout']
/** Which transactions recovery looks at, and how it prints them. */
export const SELECTION = [
  'decision-log',
  'decision-databases',
  'table',
  'fence-table',
  'prefix',
  'protocol',
  'min-age',
]
/** Where the decision and fence tables are: what init creates and check inspects. */
export const TABLES = ['decision-log', 'decision-databases', 'table', 'fences', 'fence-table']

/** The help of `--db`, shared by every command. */
export const DATABASE_HELP = `  --db NAME=URL          a database of the deployment (repeat for each). URL: postgres://,
                         postgresql://, mysql:// or mariadb://. To keep passwords off the
                         command line: --db NAME=env:VARIABLE, or --db NAME alone with the URL
                         in TXKIT_DB_<NAME>. Passwords are never printed.
  --driver NAME          the driver that opens the URLs of its schemes, instead of the first
                         installed one (repeat for each scheme): node-postgres or postgres-js
                         for postgres://, postgresql://; mysql2 or mariadb for mysql://,
                         mariadb://. Give the one the writers use.`

/** The help of the options that select transactions: status, recover, watch. */
export const SELECTION_HELP = `  --decision-log NAME    the database holding the decision table (the decision protocol
                         needs it or --decision-databases)
  --decision-databases NAME,NAME
                         the writers' decisionDatabases: each transaction's decision is
                         read in the one its id names
  --table NAME           the decision table (default txkit_decision)
  --fence-table NAME     the parallel protocol's fence table (default txkit_fence)
  --prefix P             the writers' deployment prefix (default txkit)
  --protocol P           decision | sequential | all (default: decision with --decision-log
                         or --decision-databases or both, else sequential)
  --min-age D            leave younger transactions alone; for sequential, the wait between
                         the two scans (default 15s)
  --json                 print JSON instead of text`

/** The help of the time bounds, shared by every command. */
export const TIMEOUT_HELP = `  --connect-timeout D    give up connecting after D (default 10s)
  --statement-timeout D  give up on any statement after D (default 60s): a round that takes
                         longer fails, it never hangs`
