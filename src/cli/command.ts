import type { Logger } from '../util/logger.js'
import type { Values } from './cli-options.js'
import type { ConnectedDatabase } from './connect.js'

/** What a command runs with: its options, the databases of `--db` connected, the log. */
export interface CommandContext {
  readonly values: Values
  /** Words after the command (`txkit outbox list`: `['list']`), for commands that take them. */
  readonly positionals: readonly string[]
  readonly connected: readonly ConnectedDatabase[]
  /** Log lines on stderr: timestamp, level, message; JSON objects with --json. */
  readonly logger: Logger
}

/** One command of `txkit`: `main.ts` parses, connects, and hands it the rest. */
export interface Command {
  readonly name: string
  /** What `txkit <name> --help` prints. */
  readonly help: string
  /** The options it takes: any other is a usage error, never silently ignored. */
  readonly options: ReadonlySet<string>
  /** Whether it takes words after its name (a sub-command); checked by the command itself. */
  readonly positionals?: boolean
  /**
   * Refuses bad words after its name before any database is connected, so that a usage error is
   * exit 2 even when a database is unreachable.
   */
  checkPositionals?(positionals: readonly string[]): void
  /** Refuses bad or missing option values before any database is connected (exit 2). */
  checkValues?(values: Values): void
  /** Runs it; answers the exit code (see `exit-codes.ts`). */
  run(context: CommandContext): Promise<number>
}
