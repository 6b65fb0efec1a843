import {
  registerTransientErrorCodes,
  type TransientErrorCodes,
  transient,
} from '../dialect/transient-errors.js'

// better-sqlite3's codes: another connection holds the lock.
const BUSY = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED'])

/** SQLite's transient errors for the runner: a database another connection holds locked. */
export const sqliteTransientErrorCodes: TransientErrorCodes = {
  classify(error) {
    const { code } = error
    return typeof code === 'string' && BUSY.has(code) ? transient(code, 'statement') : undefined
  },
}

registerTransientErrorCodes(sqliteTransientErrorCodes)
