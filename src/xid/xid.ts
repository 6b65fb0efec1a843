import { randomFillSync } from 'node:crypto'

/** The two shapes of transaction id: `decision` (decision and parallel protocols) and `sequential`. */
export type IdKind = 'decision' | 'sequential'

/** A commit protocol: `parallel` writes `decision` ids and the same decision rows, staged first. */
export type CommitProtocolName = IdKind | 'parallel'

/** A transaction id of ours, parsed. */
export interface OurXid {
  readonly kind: IdKind
  readonly prefix: string
  /** The global part shared by every branch (prefix included), the decision log's key. */
  readonly gtrid: string
  /**
   * How many branches the transaction has; 0 for a `decision` transaction whose databases joined
   * after it began (its decision row lists them).
   */
  readonly count: number
  readonly index: number
  /** When the coordinator began it (its own clock, ms since the epoch); decision protocol only. */
  readonly startedAt?: number
  /**
   * The tag of the decision log holding its decision (see `decisionLogTag`); decision protocol
   * only, absent from ids written before ids carried it.
   */
  readonly decisionLog?: string
}

/** A transaction id carrying our prefix whose other fields are broken. Reported, never acted on. */
export interface MalformedXid {
  readonly kind: 'malformed'
  readonly prefix: string
  readonly reason: string
}

/** Anything that is not ours: another prefix, another tool's format. Never touched. */
export interface ForeignXid {
  readonly kind: 'foreign'
}

export type ParsedXid = OurXid | MalformedXid | ForeignXid

/**
 * The most branches one transaction may have. A transaction id spends three digits on each of
 * the count and the index.
 */
export const MAX_BRANCHES = 999

const DECISION_XID =
  /^([a-z]{1,8})\.([0-9a-z]{9})([0-9a-f]{16})(?:\.([A-Za-z0-9_][A-Za-z0-9_.~-]{0,20}))?\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/
const SEQUENTIAL_XID = /^([a-z]{1,8}):([0-9a-f]{16}):([1-9][0-9]{0,2}):(0|[1-9][0-9]{0,2})$/

// One system call fills many ids' worth of randomness.
const RANDOM_POOL = Buffer.alloc(4096)
let randomOffset = RANDOM_POOL.length

function randomHex16(): string {
  if (randomOffset + 8 > RANDOM_POOL.length) {
    randomFillSync(RANDOM_POOL)
    randomOffset = 0
  }
  randomOffset += 8
  return RANDOM_POOL.toString('hex', randomOffset - 8, randomOffset)
}

/**
 * Creates the global part of a transaction id.
 *
 * - `decision`: `<prefix>.<start time, base 36, 9 chars><16 hex random>.<decision log tag>`, the
 *   tag naming where its decision is recorded (see `decisionLogTag`)
 * - `sequential`: `<prefix>:<16 hex random>`, sqlalchemy-xa-recovery 0.1.0's own format, so that
 *   either side's recovery can finish the other's transactions.
 *
 * @example
 * ```ts
 * newGtrid('decision', 'billing', Date.now(), 'accounts') // 'billing.mi2x0k3qa4f9c2a1b0e3d7788.accounts'
 * ```
 */
export function newGtrid(
  protocol: IdKind,
  prefix: string,
  now: number,
  decisionLog?: string,
): string {
  const random = randomHex16()
  if (protocol === 'sequential') return `${prefix}:${random}`
  const tag = decisionLog === undefined ? '' : `.${decisionLog}`
  return `${prefix}.${now.toString(36).padStart(9, '0')}${random}${tag}`
}

/**
 * The id of branch `index` of `count` of a transaction.
 *
 * @example
 * ```ts
 * branchXid('sxr:4f9c2a1b0e3d7788', 3, 0) // 'sxr:4f9c2a1b0e3d7788:3:0'
 * ```
 */
export function branchXid(gtrid: string, count: number, index: number): string {
  const separator = gtrid.includes(':') ? ':' : '.'
  return `${gtrid}${separator}${count}${separator}${index}`
}

/**
 * Parses any string found among a database's prepared transactions. Never throws: the answer is
 * one of ours (with its protocol), ours but malformed (our prefix, broken fields), or foreign.
 *
 * @example
 * ```ts
 * parseXid('sxr:4f9c2a1b0e3d7788:3:2', 'sxr')  // { kind: 'sequential', gtrid: 'sxr:4f9c…', count: 3, index: 2, … }
 * parseXid('sxr:zz:3:2', 'sxr')                // { kind: 'malformed', reason: '…' }
 * parseXid('_pg_some_other_tool', 'sxr')       // { kind: 'foreign' }
 * ```
 */
export function parseXid(xid: string, prefix: string): ParsedXid {
  if (typeof xid !== 'string') {
    return { kind: 'foreign' }
  }
  const decision = DECISION_XID.exec(xid)
  if (decision?.[1] === prefix) {
    const [, , time = '', random = '', tag, count = '', index = ''] = decision
    return checked({
      kind: 'decision',
      prefix,
      gtrid: `${prefix}.${time}${random}${tag === undefined ? '' : `.${tag}`}`,
      count: Number(count),
      index: Number(index),
      startedAt: Number.parseInt(time, 36),
      ...(tag !== undefined && { decisionLog: tag }),
    })
  }
  const sequential = SEQUENTIAL_XID.exec(xid)
  if (sequential?.[1] === prefix) {
    const [, , random = '', count = '', index = ''] = sequential
    return checked({
      kind: 'sequential',
      prefix,
      gtrid: `${prefix}:${random}`,
      count: Number(count),
      index: Number(index),
    })
  }
  if (xid.startsWith(`${prefix}.`) || xid.startsWith(`${prefix}:`)) {
    return {
      kind: 'malformed',
      prefix,
      reason: `"${xid.slice(0, 80)}" carries the prefix "${prefix}" but is not <prefix>.<25 chars>[.<decision log>].<count>.<index> nor <prefix>:<16 hex>:<count>:<index>`,
    }
  }
  return { kind: 'foreign' }
}

function checked(xid: OurXid): OurXid | MalformedXid {
  // A decision id of an open transaction (databases joined after begin) has the count 0.
  const open = xid.kind === 'decision' && xid.count === 0
  if (!open && xid.index >= xid.count) {
    return {
      kind: 'malformed',
      prefix: xid.prefix,
      reason: `branch index ${xid.index} is not below the branch count ${xid.count}`,
    }
  }
  return xid
}

/** What a txkit transaction id looks like, for messages that refuse one. */
export const GTRID_SHAPE =
  'a txkit transaction id is <prefix>.<9 base-36 time chars><16 hex>[.<decision log>] (decision and parallel protocols, e.g. txkit.0mwtqq4x0bb385a28af7b04f0.orders) or <prefix>:<16 hex> (sequential, e.g. txkit:4f9c2a1b0e3d7788), the prefix 1–8 lowercase letters; a branch id adds .<count>.<index> (:<count>:<index>)'

/**
 * The transaction a global id (or one of its branch ids) names, or undefined when `text` is
 * neither. The prefix is the id's own.
 *
 * @example
 * ```ts
 * parseGtrid('txkit:4f9c2a1b0e3d7788')?.kind       // 'sequential'
 * parseGtrid('txkit:4f9c2a1b0e3d7788:3:1')?.gtrid  // 'txkit:4f9c2a1b0e3d7788'
 * parseGtrid('hello')                              // undefined
 * ```
 */
export function parseGtrid(text: string):
  | {
      readonly kind: IdKind
      readonly prefix: string
      readonly gtrid: string
      readonly startedAt?: number
      readonly decisionLog?: string
    }
  | undefined {
  const prefix = /^([a-z]{1,8})[.:]/.exec(text)?.[1]
  if (prefix === undefined) return undefined
  for (const candidate of [text, branchXid(text, 1, 0)]) {
    const parsed = parseXid(candidate, prefix)
    if (parsed.kind === 'decision' || parsed.kind === 'sequential') {
      const { kind, gtrid, startedAt, decisionLog } = parsed
      return {
        kind,
        prefix,
        gtrid,
        ...(startedAt !== undefined && { startedAt }),
        ...(decisionLog !== undefined && { decisionLog }),
      }
    }
  }
  return undefined
}
