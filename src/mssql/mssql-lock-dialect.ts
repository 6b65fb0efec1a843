import { findErrorProperty } from '../dialect/error-code.js'
import type { LockDialect, LockMode, LockRequest } from '../dialect/lock-dialect.js'
import { registerLockDialect } from '../dialect/lock-source.js'

const LOCK_MODES: Partial<Record<LockMode, string>> = {
  exclusive: 'Exclusive',
  shared: 'Shared',
  update: 'Update',
}
const NOT_HELD = 1223

/** sp_getapplock's answers below zero, which are not a timeout. */
class AppLockRefused extends Error {
  readonly code: string

  constructor(answer: number) {
    super(
      answer === -2
        ? 'sp_getapplock: the lock request was cancelled (-2).'
        : answer === -3
          ? 'sp_getapplock: this session was chosen as a deadlock victim (-3); retry the work.'
          : `sp_getapplock answered ${answer}: a parameter or call error.`,
    )
    this.code = answer === -2 ? 'ECANCEL' : 'EAPPLOCK'
  }
}

function owner(request: LockRequest): string {
  return request.scope === 'transaction' ? 'Transaction' : 'Session'
}

/**
 * SQL Server application locks (sp_getapplock / sp_releaseapplock): Exclusive, Shared or Update,
 * owned by the session or by the transaction, on resource names of at most 255 characters, with
 * waits in milliseconds on the server. Written from Microsoft's documentation; not run against a
 * server here. Parameters are `@p0`, `@p1` … as the mssql adapter binds them.
 */
export const mssqlLockDialect: LockDialect = {
  displayName: 'SQL Server',
  keySpace: { kind: 'name', maxLength: 255 },
  modes: ['exclusive', 'shared', 'update'],
  scopes: ['session', 'transaction'],
  transactionScope: 'native',
  ping: 'SELECT 1',
  waitResolutionMs: 1,
  transaction: {
    begin: 'BEGIN TRANSACTION',
    commit: 'COMMIT TRANSACTION',
    rollback: 'ROLLBACK TRANSACTION',
  },

  async acquire(connection, request, wait) {
    const timeout = wait === null ? -1 : wait === 0 ? 0 : Math.max(1, Math.ceil(wait))
    const { rows } = await connection.query<{ result: number }>(
      "DECLARE @result int; EXEC @result = sp_getapplock @Resource = @p0, @LockMode = @p1, @LockOwner = @p2, @LockTimeout = @p3, @DbPrincipal = 'public'; SELECT @result AS result;",
      [request.id, LOCK_MODES[request.mode], owner(request), timeout],
    )
    const answer = Number(rows[0]?.result)
    if (answer >= 0) return { acquired: true }
    if (answer === -1) return { acquired: false }
    throw new AppLockRefused(answer)
  },

  async release(connection, request) {
    try {
      const { rows } = await connection.query<{ result: number }>(
        "DECLARE @result int; EXEC @result = sp_releaseapplock @Resource = @p0, @LockOwner = @p1, @DbPrincipal = 'public'; SELECT @result AS result;",
        [request.id, owner(request)],
      )
      return Number(rows[0]?.result) === 0
    } catch (error) {
      if (findErrorProperty(error, 'number') === NOT_HELD) return false
      throw error
    }
  },

  isMissingFencing() {
    return false
  },

  isCancelled(error) {
    return findErrorProperty(error, 'code') === 'ECANCEL'
  },
}

// Known to lock/'s messages, with how a pool of this database's drivers becomes a lock source.
registerLockDialect(mssqlLockDialect, ['mssqlLockSource(pool) from "txkit/mssql"'])
