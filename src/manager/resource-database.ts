import type { Database } from '../database/database.js'
import type { Dialect, SavepointAction } from '../dialect/dialect.js'
import type { DriverConnection, QueryResult } from '../driver/driver-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'

/** A savepoint a resource set, to roll back to or release. */
export interface ResourceSavepoint {
  rollback(): Promise<void>
  release?(): Promise<void>
}

/**
 * A participant the application writes itself (a message outbox, a file store, a remote service
 * with a reservation API), in the spirit of Zope's data managers. Alone in a transaction it commits
 * in one phase; with others it takes part in the two-phase commit: `prepare` must make the work
 * durable and sure to commit if asked, or throw to refuse.
 *
 * A resource prepared when the coordinator crashes is its own to finish: the decision row of its
 * transaction (the xid without `.<count>.<index>`) in the decision table says commit ('C') or not.
 */
export interface TransactionResource {
  /** Identifies the resource: joining twice with the same key is one participant. */
  readonly sortKey: string
  begin?(): Promise<void>
  prepare(xid: string): Promise<void>
  commit(xid: string): Promise<void>
  /** Undoes the work, prepared (`xid` given) or not (`null`). */
  abort(xid: string | null): Promise<void>
  /** Commits when the resource is the only participant (default: prepare, then commit). */
  commitOnePhase?(xid: string): Promise<void>
  /** Without it, a savepoint in a transaction this resource joined is a ConfigurationError. */
  savepoint?(): Promise<ResourceSavepoint>
  /** Whether rerunning the whole transaction after `error` may succeed (for `manager.retry`). */
  shouldRetry?(error: unknown): boolean
}

/** The session of a resource branch: no SQL, only the resource and its savepoints. */
class ResourceSession implements DriverConnection<TransactionResource> {
  readonly raw: TransactionResource
  readonly lost = false
  readonly savepoints = new Map<string, ResourceSavepoint>()

  constructor(resource: TransactionResource) {
    this.raw = resource
  }

  async query<Row>(): Promise<QueryResult<Row>> {
    throw new ConfigurationError(
      `Resource "${this.raw.sortKey}" is not a database: work with the resource itself.`,
    )
  }

  release(): void {}
}

function resourceOf(connection: DriverConnection): ResourceSession {
  return connection as ResourceSession
}

function unused(): never {
  throw new TypeError('a resource never holds the decision log, nor is scanned by recovery')
}

/** The engine's view of user-written resources: every protocol step delegated to the resource. */
const resourceDialect: Dialect = {
  displayName: 'resource',
  // A resource runs no SQL of txkit's: what it is sent is its own business.
  transactionControl: () => undefined,
  preparedBranchMayStayAttached: false,
  preparedListScope: 'database',

  async begin(connection) {
    await resourceOf(connection).raw.begin?.()
  },
  async prepare(connection, xid) {
    await resourceOf(connection).raw.prepare(xid)
    return 'prepared'
  },
  async commitOnePhase(connection, xid) {
    const { raw } = resourceOf(connection)
    if (raw.commitOnePhase) {
      await raw.commitOnePhase(xid)
    } else {
      await raw.prepare(xid)
      await raw.commit(xid)
    }
    return 'committed'
  },
  async commitPrepared(connection, xid) {
    await resourceOf(connection).raw.commit(xid)
    return 'done'
  },
  async rollbackPrepared(connection, xid) {
    await resourceOf(connection).raw.abort(xid)
    return 'done'
  },
  async rollbackActive(connection) {
    await resourceOf(connection).raw.abort(null)
  },
  async savepoint(connection, name, action: SavepointAction) {
    const session = resourceOf(connection)
    if (action === 'create') {
      if (session.raw.savepoint === undefined) {
        throw new ConfigurationError(
          `Resource "${session.raw.sortKey}" cannot set savepoints (it has no savepoint() method), so this transaction cannot either.`,
        )
      }
      session.savepoints.set(name, await session.raw.savepoint())
      return
    }
    const savepoint = session.savepoints.get(name)
    if (action === 'rollback') await savepoint?.rollback()
    else {
      await savepoint?.release?.()
      session.savepoints.delete(name)
    }
  },
  isConnectionLost: () => false,
  isUndefinedTable: () => false,
  explainPrepareFailure: async () => undefined,
  createDecisionLog: unused,
  describeDecisionLog: unused,
  decisionLogSql: () => [],
  insertCommitDecision: unused,
  resolveStagedDecision: unused,
  listPrepared: async () => [],
  readDecisions: unused,
  readOldDecisions: unused,
  insertAbortDecision: unused,
  deleteDecisions: unused,
  now: unused,
}

/** Wraps a user-written resource as a participant the engine can run. */
export function resourceDatabase(resource: TransactionResource): Database<TransactionResource> {
  if (
    resource === null ||
    typeof resource !== 'object' ||
    typeof resource.sortKey !== 'string' ||
    resource.sortKey === '' ||
    typeof resource.prepare !== 'function' ||
    typeof resource.commit !== 'function' ||
    typeof resource.abort !== 'function'
  ) {
    throw new ConfigurationError(
      'A transaction resource needs a non-empty sortKey and prepare(xid), commit(xid) and abort(xid) methods.',
    )
  }
  const session = new ResourceSession(resource)
  let taken = false
  return {
    name: `resource-${resource.sortKey}`.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64),
    identity: `resource:${resource.sortKey}`,
    dialect: resourceDialect,
    async acquire() {
      if (taken) throw new TypeError(`resource ${resource.sortKey} joined twice`)
      taken = true
      return session
    },
  }
}
