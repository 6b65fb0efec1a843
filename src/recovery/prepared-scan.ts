import type { Database } from '../database/database.js'
import { withConnection } from '../database/with-connection.js'
import type { PreparedTransaction } from '../dialect/dialect.js'
import type { FoundBranch } from '../protocol/found-branch.js'
import type { MalformedPrepared, ScannedDatabase } from '../protocol/recovery-report.js'
import { errorMessage } from '../util/error-message.js'
import { parseXid } from '../xid/xid.js'

export interface Scan {
  readonly branches: FoundBranch[]
  readonly malformed: MalformedPrepared[]
  readonly databases: ScannedDatabase[]
  readonly complete: boolean
}

/** Lists our prepared transactions; a server-wide list is read once per server. */
export async function scan(databases: readonly Database[], prefix: string): Promise<Scan> {
  const seenServers = new Set<string>()
  const scanned = await Promise.all(
    databases.map(async (database) => {
      if (database.dialect.preparedListScope === 'server') {
        const server = database.identity.replace(/\/[^/]*$/, '')
        if (seenServers.has(server))
          return { database, prepared: [] as PreparedTransaction[], skipped: true }
        seenServers.add(server)
      }
      try {
        const prepared = await withConnection(database, (connection) =>
          database.dialect.listPrepared(connection),
        )
        return { database, prepared, skipped: false }
      } catch (error) {
        return { database, prepared: [] as PreparedTransaction[], skipped: false, error }
      }
    }),
  )
  const branches: FoundBranch[] = []
  const malformed: MalformedPrepared[] = []
  const summaries: ScannedDatabase[] = []
  for (const { database, prepared, error } of scanned as Array<{
    database: Database
    prepared: PreparedTransaction[]
    error?: unknown
  }>) {
    let ours = 0
    let foreign = 0
    const otherPrefixes = new Set<string>()
    for (const { xid, preparedAt } of prepared) {
      const parsed = parseXid(xid, prefix)
      if (parsed.kind === 'foreign') {
        foreign++
        const other = txkitPrefixOf(xid)
        if (other !== undefined) otherPrefixes.add(other)
      } else if (parsed.kind === 'malformed') {
        ours++
        malformed.push({ database: database.name, xid, reason: parsed.reason })
      } else {
        ours++
        branches.push({ database, xid, parsed, preparedAt })
      }
    }
    const others = otherPrefixes.size === 0 ? {} : { otherPrefixes: [...otherPrefixes].sort() }
    summaries.push(
      error === undefined
        ? { name: database.name, ours, foreign, ...others }
        : {
            name: database.name,
            ours,
            foreign,
            ...others,
            // The identity names the host (never a password), so that an operator knows where.
            error: `(${database.identity}) could not be scanned: ${errorMessage(error)}`,
          },
    )
  }
  return {
    branches,
    malformed,
    databases: summaries,
    complete: summaries.every((summary) => summary.error === undefined),
  }
}

/** The prefix of a txkit (or sqlalchemy-xa-recovery) id written with another prefix, if it is one. */
export function txkitPrefixOf(xid: string): string | undefined {
  const prefix = /^([a-z]{1,8})[.:]/.exec(xid)?.[1]
  return prefix !== undefined && parseXid(xid, prefix).kind !== 'foreign' ? prefix : undefined
}

export function groupBy<Item>(
  items: readonly Item[],
  key: (item: Item) => string,
): Map<string, Item[]> {
  const groups = new Map<string, Item[]>()
  for (const item of items) {
    const group = groups.get(key(item))
    if (group) group.push(item)
    else groups.set(key(item), [item])
  }
  return groups
}

export function sameBranches(a: readonly FoundBranch[], b: readonly FoundBranch[]): boolean {
  const keys = (branches: readonly FoundBranch[]) =>
    branches
      .map((branch) => `${branch.database.identity}|${branch.xid}`)
      .sort()
      .join('\n')
  return keys(a) === keys(b)
}

/** Groups whose set of branches is the same in both scans: only those are judged (seed's fix). */
export function stableGroups(
  first: readonly FoundBranch[],
  second: readonly FoundBranch[],
): Map<string, FoundBranch[]> {
  const before = groupBy(first, (branch) => branch.parsed.gtrid)
  const after = groupBy(second, (branch) => branch.parsed.gtrid)
  const stable = new Map<string, FoundBranch[]>()
  for (const [gtrid, group] of after) {
    const earlier = before.get(gtrid)
    if (earlier !== undefined && sameBranches(earlier, group)) stable.set(gtrid, group)
  }
  return stable
}
