import { chmodSync, chownSync, existsSync, mkdtempSync, openSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { trackDirectory } from './cleanup.js'
import { freePort } from './free-port.js'
import { answersQueries, serverUser } from './postgres-server.js'
import { ServerProcess } from './server-process.js'

const PGBOUNCER = '/usr/sbin/pgbouncer'

/** Whether Debian's pgbouncer is installed (`apt-get install pgbouncer`). */
export function hasPgbouncer(): boolean {
  return existsSync(PGBOUNCER)
}

/**
 * A throwaway PgBouncer in front of a test PostgreSQL server, every database passed through, trust
 * authentication, in the pool mode given (`transaction`: what breaks session state).
 */
export class PgbouncerServer {
  readonly port: number
  readonly #process: ServerProcess

  private constructor(port: number, process: ServerProcess) {
    this.port = port
    this.#process = process
  }

  static async start(
    postgresPort: number,
    poolMode: 'session' | 'transaction',
  ): Promise<PgbouncerServer> {
    const directory = mkdtempSync(join(tmpdir(), 'txkit-pgbouncer-'))
    trackDirectory(directory)
    chmodSync(directory, 0o777)
    const port = await freePort()
    const ini = join(directory, 'pgbouncer.ini')
    const log = join(directory, 'pgbouncer.log')
    writeFileSync(
      ini,
      `[databases]
* = host=127.0.0.1 port=${postgresPort}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${join(directory, 'users.txt')}
pool_mode = ${poolMode}
default_pool_size = 4
logfile = ${log}
pidfile = ${join(directory, 'pgbouncer.pid')}
ignore_startup_parameters = extra_float_digits,statement_timeout,options
`,
    )
    writeFileSync(join(directory, 'users.txt'), '"postgres" ""\n')
    writeFileSync(log, '')
    // PgBouncer refuses to run as root.
    const user = serverUser()
    if (user)
      for (const file of [ini, log, join(directory, 'users.txt')])
        chownSync(file, user.uid, user.gid)
    if (user) chownSync(directory, user.uid, user.gid)
    const server: PgbouncerServer = new PgbouncerServer(
      port,
      new ServerProcess({
        description: `PgBouncer (${poolMode}) on port ${port}`,
        directory,
        command: [PGBOUNCER, ini],
        spawn: { stdio: ['ignore', openSync(log, 'a'), openSync(log, 'a')], ...user },
        logFile: log,
        stopSignal: 'SIGINT',
        startTimeoutMs: 15_000,
        ready: () => server.#accepts(),
      }),
    )
    await server.#process.launch()
    return server
  }

  /** A connection URL for `database` through the pooler. */
  url(database: string): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`
  }

  async stop(): Promise<void> {
    await this.#process.stop()
  }

  #accepts(): Promise<boolean> {
    return answersQueries(this.url('postgres'))
  }
}
