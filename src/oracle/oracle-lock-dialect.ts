import { findErrorProperty } from '../dialect/error-code.js'
import type { LockDialect, LockMode } from '../dialect/lock-dialect.js'
import { registerLockDialect } from '../dialect/lock-source.js'
import { OUT_NUMBER } from '../driver/driver-connection.js'

/** DBMS_LOCK's mode numbers (NL_MODE … X_MODE). */
const LOCK_MODES: Partial<Record<LockMode, number>> = {
  null: 1,
  'sub-shared': 2,
  'sub-exclusive': 3,
  shared: 4,
  'shared-sub-exclusive': 5,
  exclusive: 6,
}
/** DBMS_LOCK.MAXWAIT: the longest wait, in seconds, and what "wait forever" is. */
const MAXWAIT = 32767
const USER_CANCEL = 'ORA-01013'

const REQUEST_ANSWERS: Readonly<Record<number, string>> = {
  2: 'deadlock detected (2); retry the work',
  3: 'parameter error (3)',
  4: 'this session already owns the lock (4)',
  5: 'illegal lock handle (5)',
}

/**
 * Oracle user locks (DBMS_LOCK.REQUEST / RELEASE) in their six modes, on ids from 0 to 1073741823,
 * released on commit for transaction scope. DBMS_LOCK waits in whole seconds: a bound is rounded
 * up. The session needs EXECUTE on DBMS_LOCK (Oracle Database Free lacks REQUEST). Written from
 * Oracle's documentation; not run against a server here.
 */
export const oracleLockDialect: LockDialect = {
  displayName: 'Oracle',
  keySpace: { kind: 'int30' },
  modes: ['exclusive', 'shared', 'sub-shared', 'sub-exclusive', 'shared-sub-exclusive', 'null'],
  scopes: ['session', 'transaction'],
  transactionScope: 'native',
  ping: 'SELECT 1 FROM DUAL',
  waitResolutionMs: 1000,
  transaction: { begin: '', commit: 'COMMIT', rollback: 'ROLLBACK' },

  async acquire(connection, request, wait) {
    const seconds = wait === null ? MAXWAIT : Math.min(MAXWAIT, Math.ceil(wait / 1000))
    const releaseOnCommit = request.scope === 'transaction' ? 'TRUE' : 'FALSE'
    const { rows } = await connection.query<{ result: number }>(
      `BEGIN :result := DBMS_LOCK.REQUEST(id => :id, lockmode => :lockmode, timeout => :timeout, release_on_commit => ${releaseOnCommit}); END;`,
      [OUT_NUMBER, Number(request.id), LOCK_MODES[request.mode], seconds],
    )
    const answer = Number(rows[0]?.result)
    if (answer === 0) return { acquired: true }
    if (answer === 1) return { acquired: false }
    throw new Error(
      `DBMS_LOCK.REQUEST: ${REQUEST_ANSWERS[answer] ?? `unexpected answer ${answer}`}.`,
    )
  },

  async release(connection, request) {
    const { rows } = await connection.query<{ result: number }>(
      'BEGIN :result := DBMS_LOCK.RELEASE(id => :id); END;',
      [OUT_NUMBER, Number(request.id)],
    )
    const answer = Number(rows[0]?.result)
    if (answer === 0) return true
    if (answer === 4) return false
    throw new Error(`DBMS_LOCK.RELEASE answered ${answer}.`)
  },

  isMissingFencing() {
    return false
  },

  isCancelled(error) {
    return findErrorProperty(error, 'code') === USER_CANCEL
  },
}

// Known to lock/'s messages, with how a pool of this database's drivers becomes a lock source.
registerLockDialect(oracleLockDialect, ['oracleLockSource(pool) from "txkit/oracle"'])
