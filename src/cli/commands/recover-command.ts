import { COMMON, DATABASE_HELP, SELECTION, SELECTION_HELP, TIMEOUT_HELP } from '../cli-options.js'
import type { Command } from '../command.js'
import { recoverOnce } from './recover-once.js'

/** `txkit recover`: finishes in-doubt transactions once and prints what was done. */
export const recoverCommand: Command = {
  name: 'recover',
  help: `Usage: txkit recover --db NAME=URL [--db …] [options] [--dry-run]

Finishes every in-doubt transaction once: commits on a 'C' decision, rolls back on 'A', records
'A' when there is no decision and the coordinator is gone. Never touches transactions with
another prefix. Safe to run from several places at once and while writers are live.
A long round shows its progress on stderr (stdout keeps only the report): a line redrawn in
place on a terminal, else a count record every 2 s (JSON with --json).

${DATABASE_HELP}
${TIMEOUT_HELP}
${SELECTION_HELP}
  --dry-run              report what would be done, change nothing
  --concurrency N        transactions finished at once (default 8)`,
  options: new Set([...COMMON, ...SELECTION, 'dry-run', 'concurrency']),
  run: (context) => recoverOnce(context, 'recover'),
}
