import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import mysql from 'mysql2/promise'
import { trackDirectory } from './cleanup.js'
import { freePort } from './free-port.js'
import { ServerProcess } from './server-process.js'

const SEARCH_PATH = [
  ...(process.env.PATH ?? '').split(':'),
  '/usr/sbin',
  '/usr/local/sbin',
  '/usr/local/mysql/bin',
]

function findProgram(...names: string[]): string | undefined {
  for (const directory of SEARCH_PATH) {
    for (const name of names) {
      const candidate = join(directory, name)
      if (directory !== '' && existsSync(candidate)) return candidate
    }
  }
  return undefined
}

/** Where the MariaDB server and its installer are, or undefined when not installed. */
export function findMariadb(): { server: string; installer: string } | undefined {
  const server = findProgram('mariadbd', 'mysqld')
  const installer = findProgram('mariadb-install-db', 'mysql_install_db')
  return server && installer ? { server, installer } : undefined
}

export interface MariadbServerOptions {
  /** Flush the redo log at every commit (benchmarks). Tests run faster without. */
  readonly durable?: boolean
  /** Run as a one-node Galera cluster (needs Debian's galera-4; see {@link galeraProvider}). */
  readonly galera?: boolean
}

/** Galera's wsrep provider, when installed (`apt-get install galera-4`). */
export function galeraProvider(): string | undefined {
  const path = '/usr/lib/galera/libgalera_smm.so'
  return existsSync(path) ? path : undefined
}

/**
 * A throwaway MariaDB server from the system's `mariadbd`: a temp data directory, a free port,
 * `root` with no password over TCP. Killed and removed when the process exits.
 */
export class MariadbServer {
  readonly port: number
  readonly directory: string
  readonly #process: ServerProcess

  private constructor(port: number, directory: string, command: string[]) {
    this.port = port
    this.directory = directory
    this.#process = new ServerProcess({
      description: `MariaDB on port ${port}`,
      directory,
      command,
      spawn: { stdio: 'ignore' },
      logFile: join(directory, 'error.log'),
      stopSignal: 'SIGTERM',
      startTimeoutMs: 60_000,
      ready: () => this.#accepts(),
    })
  }

  static async start(options: MariadbServerOptions = {}): Promise<MariadbServer> {
    const programs = findMariadb()
    if (programs === undefined) {
      throw new Error('mariadbd is not installed (Debian: apt-get install mariadb-server)')
    }
    const directory = mkdtempSync(join(tmpdir(), 'txkit-mdb-'))
    trackDirectory(directory)
    const data = join(directory, 'data')
    // Its own temporary directory: servers of concurrent test runs never share /tmp's temp tables.
    const temporary = join(directory, 'tmp')
    mkdirSync(temporary)
    const user = userInfo().username
    execFileSync(
      programs.installer,
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--user=${user}`,
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
      ],
      { stdio: 'pipe', env: { ...process.env, TMPDIR: temporary } },
    )
    const port = await freePort()
    const args = [
      programs.server,
      '--no-defaults',
      `--datadir=${data}`,
      `--tmpdir=${temporary}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${join(directory, 'mysqld.sock')}`,
      `--pid-file=${join(directory, 'mysqld.pid')}`,
      `--log-error=${join(directory, 'error.log')}`,
      `--user=${user}`,
      '--skip-log-bin',
      '--performance-schema=OFF',
      '--innodb-buffer-pool-size=64M',
      '--innodb-log-file-size=32M',
      '--max-connections=400',
      `--innodb-flush-log-at-trx-commit=${options.durable ? 1 : 2}`,
    ]
    if (options.galera) {
      const provider = galeraProvider()
      if (provider === undefined) throw new Error('galera needs galera-4: apt-get install galera-4')
      // A new cluster of one node: an empty cluster address bootstraps it.
      args.push(
        '--wsrep-on=ON',
        `--wsrep-provider=${provider}`,
        '--wsrep-cluster-address=gcomm://',
        `--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:${await freePort()};base_dir=${directory}`,
        '--wsrep-node-address=127.0.0.1',
        '--binlog-format=ROW',
        '--innodb-autoinc-lock-mode=2',
      )
    }
    const server = new MariadbServer(port, directory, args)
    await server.#process.launch()
    return server
  }

  /** A connection URL for `database` as root. */
  url(database = ''): string {
    return `mysql://root@127.0.0.1:${this.port}/${database}`
  }

  async #accepts(): Promise<boolean> {
    try {
      const connection = await mysql.createConnection({
        host: '127.0.0.1',
        port: this.port,
        user: 'root',
      })
      await connection.end()
      return true
    } catch {
      return false
    }
  }

  logTail = (): string => this.#process.logTail()
  /** Kills the server with SIGKILL, as a crash would. */
  kill = (): Promise<void> => this.#process.kill()
  /** Starts the server again on the same data directory and port. */
  restart = (): Promise<void> => this.#process.restart()
  stop = (): Promise<void> => this.#process.stop()
}
