/**
 * What `npm test` runs (harness/run-tests.ts): every test file over each driver of its database,
 * and the time each file is given. Kept apart from the runner so that a test can check it without
 * running anything.
 */
import { readdirSync } from 'node:fs'
import { basename, join, relative } from 'node:path'
import { crashMatrixBoundMs, TOPOLOGIES } from './crash-points.js'

/**
 * The test files under `directory` (its sub-folders mirror src/'s folders), by file name: the
 * plan, the command line and the topologies name a file by its name alone, so two files of one
 * name in two folders are refused.
 */
export function testFiles(directory: string): Map<string, string> {
  const files = new Map<string, string>()
  const paths = readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .filter((path) => path.endsWith('.test.js'))
    .sort()
  for (const path of paths) {
    const name = basename(path)
    const other = files.get(name)
    if (other !== undefined) {
      throw new Error(`two test files are named ${name}: ${other} and ${path}; rename one`)
    }
    files.set(name, relative(directory, join(directory, path)))
  }
  return new Map([...files].sort(([a], [b]) => a.localeCompare(b)))
}

/** Files that never open a database through a driver: they run in the first pass only. */
export const DRIVER_NEUTRAL: ReadonlySet<string> = new Set([
  'xid.test.js',
  'transient-error.test.js',
  'lock-sql-recorded.test.js',
  'layout.test.js',
  'package.test.js',
  'readme.test.js',
  'docs.test.js',
  'examples.test.js',
  'demo.test.js',
  'test-plan.test.js',
  'amqp-broker.test.js',
  'nats-broker.test.js',
  'redis-broker.test.js',
  'bullmq-broker.test.js',
])

/** Pass 1 reaches PostgreSQL through node-postgres and MariaDB through mysql2; pass 2 through the others. */
export const PASSES = [
  { TXKIT_TEST_POSTGRES_DRIVER: 'node-postgres', TXKIT_TEST_MYSQL_DRIVER: 'mysql2' },
  { TXKIT_TEST_POSTGRES_DRIVER: 'postgres-js', TXKIT_TEST_MYSQL_DRIVER: 'mariadb' },
] as const

/** The time a test file is given unless its work is sized otherwise: what catches a hang. */
export const FILE_TIMEOUT_MS = 180_000

export const SOAK_FILE = 'soak.test.js'

/** How long the soak test runs its writers: TXKIT_SOAK_SECONDS, 60 by default. */
export function soakSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.TXKIT_SOAK_SECONDS
  if (raw === undefined || raw === '') return 60
  const seconds = Number(raw)
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new Error(`TXKIT_SOAK_SECONDS is a number of seconds > 0, not ${JSON.stringify(raw)}`)
  }
  return seconds
}

/**
 * The package test installs the tarball next to the newest registry version of every optional
 * peer, about 180 packages: a minute or two on an idle machine, several on a loaded one. It bounds
 * its own install and fails with npm's message rather than run into this.
 */
export const PACKAGE_FILE = 'package.test.js'
const PACKAGE_TIMEOUT_MS = 20 * 60_000

/**
 * The time a test file may take before the runner fails it. The soak test runs for its seconds and
 * then checks every transaction it ran, which grows with them: twice its seconds, plus the usual
 * time for starting servers. The crash matrix bounds each of its tests and hooks on its own: its
 * file may take them all at their bound.
 */
export function fileTimeoutMs(file: string, env: NodeJS.ProcessEnv = process.env): number {
  if (file === SOAK_FILE) return FILE_TIMEOUT_MS + 2 * soakSeconds(env) * 1000
  if (file === PACKAGE_FILE) return PACKAGE_TIMEOUT_MS
  const topology = TOPOLOGIES.find((candidate) => candidate.file === file)
  if (topology !== undefined) return FILE_TIMEOUT_MS + crashMatrixBoundMs(topology)
  return FILE_TIMEOUT_MS
}

/**
 * The files named on the command line (a `*` in a name matches any characters, so that a pattern
 * left unexpanded by the shell works), in the order of `all`; every file when none is named.
 */
export function selectFiles(all: readonly string[], chosen: readonly string[]): string[] {
  if (chosen.length === 0) return [...all]
  const selected: string[] = []
  for (const argument of chosen) {
    const name = argument.replace(/^.*\//, '')
    if (!name.includes('*')) {
      selected.push(name)
      continue
    }
    const pattern = new RegExp(
      `^${name
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    )
    const matching = all.filter((file) => pattern.test(file))
    if (matching.length === 0) throw new Error(`no test file matches ${argument}`)
    selected.push(...matching)
  }
  return [...new Set(selected)]
}

/** One `node --test` run: files that share a timeout. */
export interface TestRun {
  readonly timeoutMs: number
  readonly files: readonly string[]
}

export interface TestPass {
  readonly drivers: (typeof PASSES)[number]
  readonly label: string
  readonly runs: readonly TestRun[]
}

/** The passes over `files`: in each, the files grouped by their timeout, in order of first use. */
export function testPlan(
  files: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): TestPass[] {
  return PASSES.map((drivers, index) => {
    const runs = new Map<number, string[]>()
    for (const file of files) {
      if (index > 0 && DRIVER_NEUTRAL.has(file)) continue
      const timeoutMs = fileTimeoutMs(file, env)
      runs.set(timeoutMs, [...(runs.get(timeoutMs) ?? []), file])
    }
    return {
      drivers,
      label: `${drivers.TXKIT_TEST_POSTGRES_DRIVER} + ${drivers.TXKIT_TEST_MYSQL_DRIVER}`,
      runs: [...runs].map(([timeoutMs, grouped]) => ({ timeoutMs, files: grouped })),
    }
  }).filter((pass) => pass.runs.length > 0)
}
