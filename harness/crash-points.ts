/**
 * The crash matrix's cases, as data: its topologies (one test file each), the protocol variants
 * run over every topology, and the steps at which a coordinator is killed. Kept apart from the
 * tests (harness/crash-matrix.ts) so that the test runner can size each file's time from it.
 */
import type { CommitProtocolName } from '../src/index.js'
import type { CrashPoint } from './crash-coordinator.js'

export type MemberKind = 'postgres' | 'mariadb'

export interface Topology {
  readonly name: string
  /** The test file that runs this topology's matrix, under build/test. */
  readonly file: string
  readonly kinds: readonly MemberKind[]
}

export const TOPOLOGIES: readonly Topology[] = [
  { name: 'PG+PG', file: 'crash-matrix-pg-pg.test.js', kinds: ['postgres', 'postgres'] },
  {
    name: 'PG+MariaDB',
    file: 'crash-matrix-pg-mariadb.test.js',
    kinds: ['postgres', 'mariadb'],
  },
  {
    name: 'PG+PG+MariaDB',
    file: 'crash-matrix-pg-pg-mariadb.test.js',
    kinds: ['postgres', 'postgres', 'mariadb'],
  },
]

export const VARIANTS = [
  { protocol: 'decision', acknowledge: 'commit', label: 'decision', participants: false },
  {
    protocol: 'decision',
    acknowledge: 'decision',
    label: 'decision, acknowledged at the decision',
    participants: false,
  },
  // The decision kept by a participant (decisionDatabases), here the last database: on MariaDB
  // its row is inserted in the branch before its one-phase commit, on PostgreSQL with its BEGIN.
  {
    protocol: 'decision',
    acknowledge: 'commit',
    label: 'decision kept by the last participant',
    participants: true,
  },
  {
    protocol: 'decision',
    acknowledge: 'decision',
    label: 'decision kept by the last participant, acknowledged at the decision',
    participants: true,
  },
  { protocol: 'parallel', acknowledge: 'commit', label: 'parallel', participants: false },
  {
    protocol: 'parallel',
    acknowledge: 'decision',
    label: 'parallel, acknowledged at the commit point',
    participants: false,
  },
  { protocol: 'sequential', acknowledge: 'commit', label: 'sequential', participants: false },
] as const

/**
 * Every step at which a coordinator can die, for `count` branches of which the decision database's
 * (`decisionIndex`) is not prepared under the decision protocol.
 */
export function crashPoints(
  protocol: CommitProtocolName,
  count: number,
  decisionIndex: number,
): Array<CrashPoint | undefined> {
  // The decision protocol commits the decision database's branch in one phase.
  const prepared = Array.from({ length: count }, (_, index) => index).filter(
    (index) => protocol !== 'decision' || index !== decisionIndex,
  )
  const points: Array<CrashPoint | undefined> = [undefined]
  for (const index of prepared) {
    points.push(
      { step: 'prepare', when: 'before', index },
      { step: 'prepare', when: 'after', index },
    )
  }
  if (protocol !== 'sequential') {
    // parallel: 'before' is the staged row's insert (in parallel with the PREPAREs), 'after' the
    // commit point.
    points.push({ step: 'decision', when: 'before' }, { step: 'decision', when: 'after' })
  }
  for (const index of prepared) {
    points.push({ step: 'commit', when: 'before', index }, { step: 'commit', when: 'after', index })
  }
  return points
}

/** The index of the database that keeps the decision: the last participant's, or the first. */
export function decisionIndexOf(topology: Topology, participants: boolean): number {
  return participants ? topology.kinds.length - 1 : 0
}

/** The crash points of one variant over one topology: one test each. */
export function casesOf(
  topology: Topology,
  variant: (typeof VARIANTS)[number],
): Array<CrashPoint | undefined> {
  return crashPoints(
    variant.protocol,
    topology.kinds.length,
    decisionIndexOf(topology, variant.participants),
  )
}

/** How many tests the matrix of one topology runs. */
export function crashMatrixSize(topology: Topology): number {
  return VARIANTS.reduce((sum, variant) => sum + casesOf(topology, variant).length, 0)
}

/**
 * The time one crash test may take: a coordinator child started, killed and recovered after. About
 * 1 s on an idle machine, up to 4 s with the load at five times the cores and 14 s at eight times;
 * this bound is what catches a hang, so that the file's own time can grow with its tests.
 */
export const CRASH_TEST_TIMEOUT_MS = 120_000

/** The time one variant's setup (databases, foreign prepared transactions) or check may take. */
export const CRASH_HOOK_TIMEOUT_MS = 60_000

/** The time the matrix of one topology may take with every test and hook at its bound. */
export function crashMatrixBoundMs(topology: Topology): number {
  return (
    crashMatrixSize(topology) * CRASH_TEST_TIMEOUT_MS + VARIANTS.length * 2 * CRASH_HOOK_TIMEOUT_MS
  )
}
