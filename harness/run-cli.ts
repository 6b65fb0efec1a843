import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const cli = fileURLToPath(new URL('../src/cli/main.js', import.meta.url))

/** Single-quotes a word for `sh`. */
const quoted = (word: string) => `'${word.replaceAll("'", `'\\''`)}'`

/**
 * Runs the `txkit` command line on a terminal: under util-linux's `script`, whose pseudo-terminal
 * is the command's stdout and stderr both (so `stdout` holds both, with `\r\n` line ends).
 */
export function runCliOnTerminal(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  const command = [process.execPath, cli, ...args].map(quoted).join(' ')
  return collect(
    spawn('script', ['-qfec', command, '/dev/null'], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  )
}

export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the `txkit` command line and collects what it printed. `killAfterMs`: a command still
 * running then is killed, and its code is null (for commands that should exit at once).
 */
export function runCli(
  args: readonly string[],
  env: Record<string, string> = {},
  killAfterMs?: number,
): Promise<CliResult> {
  return collect(startCli(args, env), killAfterMs)
}

function collect(child: ChildProcess, killAfterMs?: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const timer =
      killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    let stdout = ''
    let stderr = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
    })
    child.on('error', reject)
    // 'close': after the output is read to its end (a terminal's may come after the exit).
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Starts the `txkit` command line, for long-running commands such as `watch`. */
export function startCli(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [cli, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/** A long-running `txkit` command, with what it wrote to stderr so far. */
export interface RunningCli {
  readonly child: ChildProcess
  /** Everything written to stderr so far. */
  stderr(): string
  /** Waits (up to 10 s) until stderr matches `pattern`; returns the match, or null on timeout. */
  until(pattern: RegExp): Promise<RegExpExecArray | null>
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>
}

/** Starts a long-running command (such as `watch`) and collects its stderr. */
export function runningCli(args: readonly string[], env: Record<string, string> = {}): RunningCli {
  const child = startCli(args, env)
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return {
    child,
    stderr: () => stderr,
    async until(pattern) {
      for (let i = 0; i < 200 && !pattern.test(stderr); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      return pattern.exec(stderr)
    },
    async stop() {
      child.kill('SIGTERM')
      return exited
    },
  }
}
