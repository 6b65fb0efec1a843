import { createHash } from 'node:crypto'
import { KEY_SPACE_NAMES, type LockIdentifier, type LockKeySpace } from '../dialect/lock-dialect.js'
import { ConfigurationError } from '../errors/configuration-error.js'
import { blake2b } from '../util/blake2b.js'
import { describeValue } from '../util/describe-value.js'

/** What names a lock: a string, or an integer (a safe-integer number or a bigint). */
export type LockKey = string | number | bigint

/**
 * How keys become the database's lock identifiers.
 * - `txkit` (default): strings are hashed with SHA-256 where the database wants integers, the same on
 *   every machine; see {@link lockIdentifier}.
 * - `sqlalchemy-dlock`: the mapping of the Python package sqlalchemy-dlock on a little-endian machine
 *   (BLAKE2b, 8 bytes), so Python and Node processes contend on the same lock.
 */
export type LockKeyMapping = 'txkit' | 'sqlalchemy-dlock'

/**
 * What to do with a string key longer than a named lock may be (MySQL/MariaDB 64 characters, SQL
 * Server 255): refuse it (`error`, the default), or `hash` it to `h:` and hex SHA-256 digits.
 */
export type LongKeyPolicy = 'error' | 'hash'

export type { LockIdentifier, LockKeySpace }

const INT64_MIN = -(1n << 63n)
const INT64_MAX = (1n << 63n) - 1n
const INT30_MODULUS = 1n << 30n
const UNPAIRED_SURROGATE = /\p{Cs}/u

export interface LockKeyOptions {
  readonly keyMapping?: LockKeyMapping
  readonly longKeys?: LongKeyPolicy
}

/**
 * The identifier a key locks on a database, as txkit computes it. Portable: the same on every
 * machine and every Node version.
 *
 * - PostgreSQL: an integer key as it is (it must fit a signed 64-bit integer); a string key is the
 *   first 8 bytes of the SHA-256 of its UTF-8 text, read big-endian as a signed integer. In SQL:
 *   `('x' || left(encode(sha256(convert_to(key, 'UTF8')), 'hex'), 16))::bit(64)::bigint`.
 * - MySQL/MariaDB and SQL Server: the string itself (an integer key as its decimal digits), at most
 *   64 / 255 characters; longer keys are refused unless `longKeys: 'hash'`, which locks
 *   `h:` followed by the SHA-256 hex digits (cut to fit).
 * - Oracle: an integer key from 0 to 1073741823 as it is; a string key is the first 4 bytes of its
 *   SHA-256, big-endian, keeping the low 30 bits.
 *
 * With `keyMapping: 'sqlalchemy-dlock'`, the Python package's rules: PostgreSQL strings are
 * BLAKE2b (8 bytes) read little-endian and signed; Oracle strings the same bytes unsigned, modulo
 * 2^30, and Oracle integers outside the range are taken modulo 2^30; named locks use the string.
 *
 * @throws ConfigurationError for an empty, too long, non-integer or out-of-range key.
 * @example
 * ```ts
 * lockIdentifier('billing:42', { kind: 'int64' }) // 2956065053790652508n, on every machine
 * ```
 */
export function lockIdentifier(
  key: unknown,
  space: LockKeySpace,
  options: LockKeyOptions = {},
): LockIdentifier {
  const mapping = options.keyMapping ?? 'txkit'
  if (mapping !== 'txkit' && mapping !== 'sqlalchemy-dlock') {
    throw new ConfigurationError(
      `Unknown keyMapping ${describeValue(mapping)}: use 'txkit' (the default) or 'sqlalchemy-dlock'.`,
    )
  }
  const longKeys = options.longKeys ?? 'error'
  if (longKeys !== 'error' && longKeys !== 'hash') {
    throw new ConfigurationError(
      `Unknown longKeys ${describeValue(longKeys)}: use 'error' (the default) or 'hash'.`,
    )
  }
  const checked = checkKey(key)
  switch (space.kind) {
    case 'int64':
      if (typeof checked === 'bigint')
        return inRange(checked, INT64_MIN, INT64_MAX, KEY_SPACE_NAMES.int64)
      return mapping === 'txkit'
        ? sha256(checked).readBigInt64BE(0)
        : Buffer.from(blake2b(utf8(checked), 8)).readBigInt64LE(0)
    case 'int30':
      if (typeof checked === 'bigint') {
        return mapping === 'txkit'
          ? inRange(checked, 0n, INT30_MODULUS - 1n, KEY_SPACE_NAMES.int30)
          : ((checked % INT30_MODULUS) + INT30_MODULUS) % INT30_MODULUS
      }
      return mapping === 'txkit'
        ? BigInt(sha256(checked).readUInt32BE(0) & 0x3fffffff)
        : Buffer.from(blake2b(utf8(checked), 8)).readBigUInt64LE(0) % INT30_MODULUS
    case 'name':
      return lockName(typeof checked === 'bigint' ? checked.toString() : checked, space, longKeys)
  }
}

/** A string (non-empty, well-formed) or an integer as a bigint. */
function checkKey(key: unknown): string | bigint {
  if (typeof key === 'string') {
    if (key.length === 0) throw new ConfigurationError('A lock key cannot be an empty string.')
    if (UNPAIRED_SURROGATE.test(key)) {
      throw new ConfigurationError(
        'A lock key must be well-formed text: this one has an unpaired UTF-16 surrogate.',
      )
    }
    return key
  }
  if (typeof key === 'bigint') return key
  if (typeof key === 'number') {
    if (Number.isSafeInteger(key)) return BigInt(key)
    throw new ConfigurationError(
      `A numeric lock key must be a safe integer, not ${describeValue(key)}: use a bigint for integers beyond 2^53, or a string.`,
    )
  }
  throw new ConfigurationError(
    `A lock key is a string, a safe integer or a bigint, not ${describeValue(key)}.`,
  )
}

function inRange(value: bigint, min: bigint, max: bigint, where: string): bigint {
  if (value < min || value > max) {
    throw new ConfigurationError(
      `Lock key ${value} is outside ${where}'s range (${min} to ${max}): use a key in range, or a string key, which is hashed into it.`,
    )
  }
  return value
}

function lockName(
  name: string,
  space: { readonly maxLength: number },
  longKeys: LongKeyPolicy,
): string {
  const characters = [...name].length
  if (characters <= space.maxLength) return name
  if (longKeys === 'hash') {
    return `h:${sha256(name)
      .toString('hex')
      .slice(0, space.maxLength - 2)}`
  }
  throw new ConfigurationError(
    `Lock key is ${characters} characters long; this database's named locks take at most ${space.maxLength}: use a shorter key, or the option longKeys: 'hash'.`,
  )
}

function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8')
}

// Keys repeat (a job name, an account id): hashing each once is cheaper than once per lock.
const digests = new Map<string, Buffer>()
const DIGEST_CACHE_SIZE = 1024

function sha256(text: string): Buffer {
  let digest = digests.get(text)
  if (digest === undefined) {
    digest = createHash('sha256').update(text, 'utf8').digest()
    if (digests.size >= DIGEST_CACHE_SIZE) digests.clear()
    digests.set(text, digest)
  }
  return digest
}

/** The key for messages: strings quoted and shortened, integers as they are. */
export function describeKey(key: LockKey): string {
  if (typeof key !== 'string') return String(key)
  return JSON.stringify(key.length > 80 ? `${key.slice(0, 80)}…` : key)
}
