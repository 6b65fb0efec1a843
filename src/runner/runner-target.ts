import type { Database } from '../database/database.js'
import { isHeldSession } from '../database/held-session.js'
import type { RunnerDialect } from '../dialect/runner-dialect.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import type { BranchHandle } from '../protocol/branch.js'

/** A session an operation runs on, and what the operation's function is given for it. */
export interface RunnerSession {
  readonly connection: DriverConnection
  readonly dialect: RunnerDialect
  /** The database's name (`pgDatabase(pool, { name })`); absent for a held session, which has none. */
  readonly database?: string
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

const dialects = new WeakMap<Database, Promise<RunnerDialect>>()

/** The runner's dialect of a database's server, asked once per database (MySQL or MariaDB). */
function dialectOf(database: Database, connection: DriverConnection): Promise<RunnerDialect> {
  let known = dialects.get(database)
  if (known === undefined) {
    const ask = database.dialect.runnerDialect
    if (ask === undefined) {
      return Promise.reject(
        new ConfigurationError(
          `The runner cannot run operations on ${database.dialect.displayName} ("${database.name}"): its dialect has no runner dialect.`,
        ),
      )
    }
    known = ask.call(database.dialect, connection)
    known.catch(() => dialects.delete(database))
    dialects.set(database, known)
  }
  return known
}

function fromDatabase(database: Database): ResolvedTarget {
  return {
    kind: 'pool',
    async open() {
      const connection = await database.acquire()
      try {
        return {
          connection,
          dialect: await dialectOf(database, connection),
          database: database.name,
          exposed: connection.raw,
        }
      } catch (error) {
        connection.release(true)
        throw error
      }
    },
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
 * What `runner.run` was given: a txkit database, a transaction's branch handle, or a session the
 * caller holds (`pgSession(client)`, `mysqlSession(connection)`, `sqliteSession(db)` …).
 */
export function resolveTarget(target: unknown): ResolvedTarget {
  if (target === null || typeof target !== 'object') throw notATarget(target)
  if (isHeldSession(target)) {
    // A held session may enter and leave transactions between runs: asked each time.
    const { connection } = target
    const session = target.runnerDialect().then((dialect) => ({
      connection,
      dialect,
      exposed: connection.raw,
    }))
    if (target.inTransaction()) return { kind: 'transaction', session }
    session.catch(() => undefined)
    return { kind: 'pool', open: () => session }
  }
  const known = targets.get(target)
  if (known !== undefined) return known
  const resolved = resolveTxkitTarget(target)
  targets.set(target, resolved)
  if (resolved.kind === 'transaction') resolved.session.catch(() => targets.delete(target))
  return resolved
}

function resolveTxkitTarget(target: object): ResolvedTarget {
  const shape = target as Record<string, unknown>
  if (typeof shape.execute === 'function' && Array.isArray(shape.names) && shape.database) {
    const handle = target as BranchHandle
    const connection = branchSession(handle)
    return {
      kind: 'transaction',
      session: dialectOf(handle.database, connection).then((dialect) => ({
        connection,
        dialect,
        database: handle.database.name,
        exposed: handle,
      })),
    }
  }
  if (typeof shape.acquire === 'function' && shape.dialect !== undefined) {
    return fromDatabase(target as Database)
  }
  throw notATarget(target)
}

function notATarget(value: unknown): ConfigurationError {
  const kind = value === null ? 'null' : typeof value
  const hint =
    value !== null && typeof value === 'object'
      ? " A driver pool or connection is wrapped first, with the `…Database(pool, { name })` function of its driver's entry point (`txkit/<driver>`); a session held in a transaction, with its `…Session(connection)` function."
      : ''
  return new ConfigurationError(
    `runner.run needs a txkit database, a branch handle or a held session; got ${kind}.${hint}`,
  )
}
