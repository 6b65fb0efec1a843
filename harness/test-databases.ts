import { randomBytes } from 'node:crypto'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { findMariadb, MariadbServer } from './mariadb-server.js'
import { PostgresServer } from './postgres-server.js'

/** A server tests may create databases on: a throwaway one, or one named by an env variable. */
export interface TestServer {
  readonly kind: 'postgres' | 'mariadb'
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(): Promise<string>
  /** Present when the harness started the server (so tests may kill or restart it). */
  readonly owned?: PostgresServer | MariadbServer
}

let postgres: Promise<TestServer> | undefined
let mariadb: Promise<TestServer | undefined> | undefined
const started: Array<PostgresServer | MariadbServer> = []

function databaseName(): string {
  return `txkit_t_${randomBytes(5).toString('hex')}`
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

function postgresOn(adminUrl: string, owned?: PostgresServer): TestServer {
  return {
    kind: 'postgres',
    ...(owned && { owned }),
    async createDatabase() {
      const name = databaseName()
      const client = new pg.Client({ connectionString: adminUrl })
      await client.connect()
      try {
        await client.query(`CREATE DATABASE ${name}`)
      } finally {
        await client.end()
      }
      return withDatabase(adminUrl, name)
    },
  }
}

function mariadbOn(adminUrl: string, owned?: MariadbServer): TestServer {
  return {
    kind: 'mariadb',
    ...(owned && { owned }),
    async createDatabase() {
      const name = databaseName()
      const connection = await mysql.createConnection(adminUrl)
      try {
        await connection.query(`CREATE DATABASE ${name}`)
      } finally {
        await connection.end()
      }
      return withDatabase(adminUrl, name)
    },
  }
}

/**
 * The PostgreSQL server of this test process: `TXKIT_TEST_PG_URL` (a superuser URL of a server
 * with max_prepared_transactions > 0) or a throwaway embedded one.
 */
export function testPostgres(): Promise<TestServer> {
  postgres ??= (async () => {
    const url = process.env.TXKIT_TEST_PG_URL
    if (url) return postgresOn(url)
    const server = await PostgresServer.start()
    started.push(server)
    return postgresOn(server.url(), server)
  })()
  return postgres
}

/** A second, private PostgreSQL server with options of its own (always embedded). */
export async function startPostgres(
  options: Parameters<typeof PostgresServer.start>[0],
): Promise<TestServer> {
  const server = await PostgresServer.start(options)
  started.push(server)
  return postgresOn(server.url(), server)
}

/** A second, private MariaDB server with options of its own (the system's mariadbd). */
export async function startMariadb(
  options: Parameters<typeof MariadbServer.start>[0],
): Promise<TestServer> {
  const server = await MariadbServer.start(options)
  started.push(server)
  return mariadbOn(server.url(), server)
}

/**
 * A private PostgreSQL primary and a streaming standby of it (synchronous or not), both embedded.
 * The standby's `createDatabase` is unusable (it is read-only): create databases on the primary.
 * `replicateThrough` puts something (a proxy) between them: given the primary's port, it returns
 * the port the standby connects to.
 */
export async function startPrimaryAndStandby(
  synchronous: boolean,
  replicateThrough?: (primaryPort: number) => Promise<number>,
): Promise<{ primary: TestServer; standby: TestServer }> {
  const primaryServer = await PostgresServer.start({})
  started.push(primaryServer)
  const standbyServer = await PostgresServer.startStandby(primaryServer, {
    name: 'standby1',
    synchronous,
    ...(replicateThrough && { primaryPort: await replicateThrough(primaryServer.port) }),
  })
  started.push(standbyServer)
  return {
    primary: postgresOn(primaryServer.url(), primaryServer),
    standby: postgresOn(standbyServer.url(), standbyServer),
  }
}

const MARIADB_MISSING =
  'MariaDB tests SKIPPED: no mariadbd on this machine and no TXKIT_TEST_MYSQL_URL. ' +
  'Install one (apt-get install mariadb-server) or set TXKIT_TEST_MYSQL_URL=mysql://root@host:3306/ to run them.'

/**
 * The MariaDB / MySQL server of this test process: `TXKIT_TEST_MYSQL_URL`, or a throwaway one
 * from the system's mariadbd. Undefined (with one loud line) when neither exists; under CI=true
 * that is an error instead, so CI can never pass by skipping.
 */
export function testMariadb(): Promise<TestServer | undefined> {
  mariadb ??= (async () => {
    const url = process.env.TXKIT_TEST_MYSQL_URL
    if (url) return mariadbOn(url)
    if (findMariadb() === undefined) {
      if (process.env.CI === 'true') throw new Error(`CI=true: ${MARIADB_MISSING}`)
      console.warn(`\n*** ${MARIADB_MISSING} ***\n`)
      return undefined
    }
    const server = await MariadbServer.start()
    started.push(server)
    return mariadbOn(server.url(), server)
  })()
  return mariadb
}

/** Stops every server this process started. */
export async function stopTestServers(): Promise<void> {
  const servers = started.splice(0)
  await Promise.all(servers.map((server) => server.stop()))
  postgres = undefined
  mariadb = undefined
}
