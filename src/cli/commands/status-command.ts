import { COMMON, DATABASE_HELP, SELECTION, SELECTION_HELP, TIMEOUT_HELP } from '../cli-options.js'
import type { Command } from '../command.js'
import { recoverOnce } from './recover-once.js'

/** `txkit status`: our prepared transactions and what recover would do; changes nothing. */
export const statusCommand: Command = {
  name: 'status',
  help: `Usage: txkit status --db NAME=URL [--db …] [options]

Lists our prepared transactions with their age, decision and what recover would do. Changes
nothing. Exit codes: 0 none in doubt; 3 some in doubt that recover would finish now or a later
round will; 1 some that need a person (another decision log, a missing table, malformed ids) or
a database that could not be scanned; 2 a usage error.

${DATABASE_HELP}
${TIMEOUT_HELP}
${SELECTION_HELP}`,
  options: new Set([...COMMON, ...SELECTION]),
  run: (context) => recoverOnce(context, 'status'),
}
