import type { BranchHandle } from '../commit/branch.js'
import type { Dialect } from '../dialect/dialect.js'
import { mysqlRunnerDialect } from '../dialect/mysql-runner-dialect.js'
import { postgresRunnerDialect } from '../dialect/postgres-runner-dialect.js'
import { sqliteRunnerDialect } from '../dialect/sqlite-runner-dialect.js'
import type { Database } from '../driver/database.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { databaseOfPool } from '../driver/pool-database.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import {
  type MysqlConnectionLike,
  type MysqlFlavour,
  mysqlSession,
  queryFlavour,
} from '../mysql/mysql-database.js'
import { type PgClientLike, pgSession } from '../pg/pg-database.js'
import { isSqliteDatabase, sqliteSession } from '../sqlite/sqlite-session.js'
import type { RunnerDialect } from './runner-dialect.js'

/** A session an operation runs on, and what the operation's function is given for it. */
export interface RunnerSession {
  readonly connection: DriverConnection
  readonly dialect: RunnerDialect
  /** The value handed to the operation: the driver's connection, the branch handle, the database. */
  readonly exposed: unknown
}

/**
 * Where operations run. `pool`: the runner checks a session out per attempt and runs each attempt
 * in a transaction of its own. `transaction`: the caller's session, already in a transaction; each
 * attempt runs in a savepoint.
 */
export type ResolvedTarget =
  | { readonly kind: 'pool'; open(): Promise<RunnerSession> }
  | { readonly kind: 'transaction'; readonly session: Promise<RunnerSession> }

const flavours = new WeakMap<object, Promise<MysqlFlavour>>()

/** MySQL or MariaDB, asked once per pool or connection. */
function flavourOf(key: object, connection: DriverConnection): Promise<MysqlFlavour> {
  let known = flavours.get(key)
  if (known === undefined) {
    known = queryFlavour(connection)
    known.catch(() => flavours.delete(key))
    flavours.set(key, known)
  }
  return known
}

async function dialectFor(
  dialect: Dialect,
  key: object,
  connection: DriverConnection,
): Promise<RunnerDialect> {
  if (dialect.displayName === 'PostgreSQL') return postgresRunnerDialect
  if (dialect.displayName === 'MySQL/MariaDB') {
    return mysqlRunnerDialect(await flavourOf(key, connection))
  }
  throw new ConfigurationError(
    `The runner works on PostgreSQL, MySQL, MariaDB and SQLite, not on ${dialect.displayName}.`,
  )
}

function fromDatabase(database: Database): ResolvedTarget {
  return {
    kind: 'pool',
    async open() {
      const connection = await database.acquire()
      try {
        return {
          connection,
          dialect: await dialectFor(database.dialect, database, connection),
          exposed: connection.raw,
        }
      } catch (error) {
        connection.release(true)
        throw error
      }
    },
  }
}

function inTransaction(
  connection: DriverConnection,
  dialect: Promise<RunnerDialect>,
  exposed: unknown,
): ResolvedTarget {
  return {
    kind: 'transaction',
    session: dialect.then((resolved) => ({ connection, dialect: resolved, exposed })),
  }
}

/** The branch handle's statements, as a session the transaction keeps. */
function branchSession(handle: BranchHandle): DriverConnection {
  return {
    raw: handle.connection,
    lost: false,
    release: () => undefined,
    query: (sql, params) => handle.execute(sql, params),
  }
}

const targets = new WeakMap<object, ResolvedTarget>()

/**
 * What `runner.run` was given: a pool (node-postgres, mysql2), a txkit database handle, a
 * transaction's branch handle, a node-postgres client or mysql2 connection already in a
 * transaction, or a better-sqlite3 database (in a transaction or not).
 */
export function resolveTarget(target: unknown): ResolvedTarget {
  if (target === null || typeof target !== 'object') throw notATarget(target)
  if (isSqliteDatabase(target)) {
    const connection = sqliteSession(target)
    const session = { connection, dialect: sqliteRunnerDialect, exposed: target }
    return target.inTransaction
      ? { kind: 'transaction', session: Promise.resolve(session) }
      : { kind: 'pool', open: async () => session }
  }
  const known = targets.get(target)
  if (known !== undefined) return known
  const resolved = resolveDriverTarget(target)
  targets.set(target, resolved)
  if (resolved.kind === 'transaction') resolved.session.catch(() => targets.delete(target))
  return resolved
}

function resolveDriverTarget(target: object): ResolvedTarget {
  const shape = target as Record<string, unknown>
  if (typeof shape.execute === 'function' && Array.isArray(shape.names) && shape.database) {
    const handle = target as BranchHandle
    const connection = branchSession(handle)
    return inTransaction(
      connection,
      dialectFor(handle.database.dialect, handle.database, connection),
      handle,
    )
  }
  if (typeof shape.acquire === 'function' && shape.dialect !== undefined) {
    return fromDatabase(target as Database)
  }
  const pool = databaseOfPool(target)
  if (pool !== undefined) return fromDatabase(pool)
  // A mysql2 connection has a threadId (and a connect() too, so it is told apart first).
  if (typeof shape.query === 'function' && 'threadId' in shape) {
    const connection = mysqlSession(target as unknown as MysqlConnectionLike)
    return inTransaction(connection, flavourOf(target, connection).then(mysqlRunnerDialect), target)
  }
  if (typeof shape.connect === 'function' && typeof shape.query === 'function') {
    const connection = pgSession(target as unknown as PgClientLike)
    return inTransaction(connection, Promise.resolve(postgresRunnerDialect), target)
  }
  throw notATarget(target)
}

function notATarget(value: unknown): ConfigurationError {
  const kind = value === null ? 'null' : typeof value
  return new ConfigurationError(
    `runner.run needs a pool (node-postgres, mysql2), a txkit database or branch handle, a pg client or mysql2 connection in a transaction, or a better-sqlite3 database; got ${kind}.`,
  )
}
