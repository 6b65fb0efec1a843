import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { killGroup, trackChild, untrackDirectory } from './cleanup.js'
import { waitFor } from './wait-for.js'

export interface ServerProcessOptions {
  /** For messages: `PostgreSQL on port 5433`. */
  readonly description: string
  readonly directory: string
  readonly command: readonly string[]
  readonly spawn: SpawnOptions
  readonly logFile: string
  /** The signal for a clean, fast shutdown. */
  readonly stopSignal: NodeJS.Signals
  readonly startTimeoutMs: number
  /** Answers true once the server accepts connections. */
  readonly ready: () => Promise<boolean>
}

/**
 * A database server process of the test harness, in a process group of its own so that a kill takes
 * every worker with it: start, kill (as a crash would), restart on the same data, stop and remove.
 */
export class ServerProcess {
  readonly #options: ServerProcessOptions
  #command: readonly string[]
  #child: ChildProcess | undefined

  constructor(options: ServerProcessOptions) {
    this.#options = options
    this.#command = options.command
  }

  get #running(): boolean {
    const child = this.#child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  async launch(): Promise<void> {
    const [command = '', ...args] = this.#command
    const child = spawn(command, args, { ...this.#options.spawn, detached: true })
    trackChild(child)
    this.#child = child
    await waitFor(this.#options.description, this.#options.startTimeoutMs, async () => {
      if (child.exitCode !== null) {
        throw new Error(`${this.#options.description} exited at start: ${this.logTail()}`)
      }
      return this.#options.ready()
    })
  }

  logTail(): string {
    try {
      return readFileSync(this.#options.logFile, 'utf8').slice(-2000)
    } catch {
      return '(no log)'
    }
  }

  /**
   * Kills the server with SIGKILL, as a crash would, and waits until its workers are gone too.
   * PostgreSQL's workers are process-group leaders of their own, so the signal reaches only the
   * postmaster: the workers end once they notice it died, and a server started on the same data
   * before the last one ends refuses to start ("pre-existing shared memory block is still in use").
   */
  async kill(): Promise<void> {
    const child = this.#child
    if (child === undefined || !this.#running) return
    const workers = child.pid === undefined ? [] : descendants(child.pid)
    const exited = new Promise((resolve) => child.once('exit', resolve))
    killGroup(child, 'SIGKILL')
    await exited
    await waitFor(`the workers of ${this.#options.description} to end`, 30_000, async () =>
      workers.every((pid) => !alive(pid)),
    )
  }

  /** Starts the server again on the same data directory and port (with another command line). */
  async restart(command?: readonly string[]): Promise<void> {
    await this.kill()
    if (command !== undefined) this.#command = command
    await this.launch()
  }

  /** Shuts the server down and removes its directory. */
  async stop(): Promise<void> {
    const child = this.#child
    if (child !== undefined && this.#running) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill(this.#options.stopSignal)
      const timeout = setTimeout(() => killGroup(child, 'SIGKILL'), 15_000)
      await exited
      clearTimeout(timeout)
    }
    rmSync(this.#options.directory, { recursive: true, force: true })
    untrackDirectory(this.#options.directory)
  }
}

/** Every process below `pid`, read from Linux's /proc (each task's `children`), children before their own. */
function descendants(pid: number): number[] {
  const found: number[] = []
  const visit = (parent: number) => {
    let tasks: string[] = []
    try {
      tasks = readdirSync(`/proc/${parent}/task`)
    } catch {
      return
    }
    for (const task of tasks) {
      let children = ''
      try {
        children = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8')
      } catch {
        continue
      }
      for (const each of children.split(/\s+/).filter(Boolean).map(Number)) {
        found.push(each)
        visit(each)
      }
    }
  }
  visit(pid)
  return found
}

/** Whether process `pid` still exists (a zombie counts as gone: it holds no memory). */
function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0]
    return state !== undefined && state !== 'Z' && state !== 'X'
  } catch {
    return false
  }
}
