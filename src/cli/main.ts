#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { isConfigurationError } from '../errors/configuration-error.js'
import { errorMessage } from '../util/error-message.js'
import { redactUrlsIn } from '../util/redact-url.js'
import { cliLogger } from './cli-logger.js'
import { OPTIONS, type Values } from './cli-options.js'
import type { Command } from './command.js'
import { auditCommand } from './commands/audit-command.js'
import { checkCommand } from './commands/check-command.js'
import { initCommand } from './commands/init-command.js'
import { outboxCommand } from './commands/outbox-command.js'
import { recoverCommand } from './commands/recover-command.js'
import { relayCommand } from './commands/relay-command.js'
import { resolveCommand } from './commands/resolve-command.js'
import { showCommand } from './commands/show-command.js'
import { statusCommand } from './commands/status-command.js'
import { watchCommand } from './commands/watch-command.js'
import { EXIT } from './exit-codes.js'
import { openDatabases } from './open-databases.js'
import { out } from './output.js'
import { stderrLine } from './status-line.js'
import { UsageError } from './usage-error.js'
import { packageVersion } from './version.js'

/** What `txkit`, `txkit --help` and `txkit help` print. */
const HELP = `txkit — atomic commit across databases, and recovery of in-doubt transactions

Usage: txkit <command> [options]

Commands:
  init      create the decision table (and the audit table, with --audit)
  status    show our prepared transactions and what recover would do
  show      one transaction: its branches, its decision, and what it blocks
  recover   finish in-doubt transactions once, print what was done
  resolve   an operator's decision for one in-doubt transaction: record it, finish its branches
  audit     list the operators' resolutions (the audit table)
  watch     recover every interval, serve Prometheus metrics
  check     inspect every database before the first transaction: settings, tables
  relay     publish committed outbox messages to their brokers until stopped
  outbox    status | list | replay | gc: inspect and repair the outbox

Run txkit <command> --help for its options.
Exit codes: 0 nothing left in doubt; 1 something failed or needs a person (another
decision log, a missing table, malformed ids); 2 usage error; 3 work left for a later round
(too young, a decision still open, a branch still attached to its session), and for status,
anything in doubt that recover would finish now.
txkit --version prints the version.`

const COMMANDS: readonly Command[] = [
  initCommand,
  statusCommand,
  showCommand,
  recoverCommand,
  resolveCommand,
  auditCommand,
  watchCommand,
  checkCommand,
  relayCommand,
  outboxCommand,
]

/**
 * Parses the command line, refuses an option the command does not take, connects every `--db`,
 * runs the command and closes the connections; answers the exit code.
 */
async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    out(HELP)
    return command === undefined ? EXIT.usage : EXIT.done
  }
  if (command === '--version' || command === 'version') {
    out(packageVersion())
    return EXIT.done
  }
  const chosen = COMMANDS.find((each) => each.name === command)
  if (chosen === undefined) throw new UsageError(`Unknown command "${command}".`)
  let values: Values
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: [...rest],
      options: OPTIONS,
      allowPositionals: chosen.positionals === true,
      strict: true,
    }))
  } catch (error) {
    // parseArgs quotes what it did not expect: never echo it, it may be a password.
    throw new UsageError(
      /positional/i.test(errorMessage(error))
        ? `txkit ${command} takes no arguments besides its options.`
        : errorMessage(error).replace(/'[^']*'/g, (quoted) =>
            quoted.startsWith("'-") ? quoted : "'…'",
          ),
    )
  }
  const misplaced = Object.keys(values).filter((name) => !chosen.options.has(name))
  if (misplaced.length > 0) {
    throw new UsageError(
      `txkit ${command} does not take ${misplaced.map((name) => `--${name}`).join(', ')}.`,
    )
  }
  if (values.help) {
    out(chosen.help)
    return EXIT.done
  }
  chosen.checkPositionals?.(positionals)
  chosen.checkValues?.(values)
  // Through the status line: a log line is printed above a progress line being redrawn.
  const logger = cliLogger(values.json === true, (line) => stderrLine.print(line))
  const connected = await openDatabases(values)
  try {
    return await chosen.run({ values, positionals, connected, logger })
  } finally {
    await Promise.all(connected.map((entry) => entry.close().catch(() => undefined)))
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    // A bad prefix or table name is found by the library: a usage error all the same.
    if (error instanceof UsageError || isConfigurationError(error)) {
      process.stderr.write(
        `${redactUrlsIn(`txkit: ${error.message}`)}\nRun txkit --help for usage.\n`,
      )
      process.exitCode = EXIT.usage
    } else {
      process.stderr.write(`${redactUrlsIn(`txkit: ${errorMessage(error)}`)}\n`)
      process.exitCode = 1
    }
  },
)
