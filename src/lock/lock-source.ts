import type { Database } from '../database/database.js'
import type { Dialect } from '../dialect/dialect.js'
import { type LockSource, lockSourceHints } from '../dialect/lock-source.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { ConfigurationError } from '../errors/configuration-error.js'

export type { LockSource }

/** What can be given where a lock source is expected: a lock source or a txkit database. */
// biome-ignore lint/suspicious/noExplicitAny: any driver's database
export type LockSourceLike = LockSource | Database<any>

interface DatabaseShape {
  readonly identity: string
  readonly dialect: Dialect
  acquire(): Promise<DriverConnection>
}

const cache = new WeakMap<object, LockSource>()

/** The lock source behind a handle or a driver pool. */
export function toLockSource(value: unknown): LockSource {
  if (value === null || typeof value !== 'object') throw notASource(value)
  const known = cache.get(value)
  if (known !== undefined) return known
  const source = resolve(value)
  cache.set(value, source)
  return source
}

function resolve(value: object): LockSource {
  const shape = value as Partial<LockSource & DatabaseShape> & Record<string, unknown>
  if (typeof shape.acquire === 'function') {
    if (shape.lockDialect !== undefined) return value as LockSource
    if (shape.dialect !== undefined) {
      const lockDialect = shape.dialect.locks
      if (lockDialect === undefined) {
        throw new ConfigurationError(
          `${shape.dialect.displayName} has no database locks in txkit (a user-written resource cannot lock).`,
        )
      }
      const database = value as DatabaseShape
      return {
        identity: database.identity,
        lockDialect,
        acquire: () => database.acquire(),
      }
    }
  }
  throw notASource(value)
}

function notASource(value: unknown): ConfigurationError {
  const kind = value === null ? 'null' : typeof value
  // Each database folder loaded names its own ways in: this folder names none.
  const hints = lockSourceHints()
  const ways =
    hints.length === 0
      ? ' with the database (or lock source) function of its txkit entry point'
      : `: ${hints.length === 1 ? hints[0] : `${hints.slice(0, -1).join(', ')} or ${hints.at(-1)}`}`
  return new ConfigurationError(
    `Locks need a txkit database or lock source; got ${kind}. Wrap the driver's pool first${ways}.`,
  )
}
