/**
 * `npm test`: every test file over each driver of its database, as Kysely runs its tests over each
 * dialect. Pass 1 reaches PostgreSQL through node-postgres and MariaDB through mysql2; pass 2
 * through postgres.js and the mariadb connector. Files that never open a database through a
 * driver (the SQL lexer, recorded SQL, the package, the README) run in the first pass only.
 * Arguments after `--` are test files (default: all of build/test).
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'

const DRIVER_NEUTRAL = new Set([
  'xid.test.js',
  'transient-error.test.js',
  'lock-sql-recorded.test.js',
  'layout.test.js',
  'package.test.js',
  'readme.test.js',
  'examples.test.js',
  'demo.test.js',
])

/**
 * Files given more than the default 180 s per file (node --test's timeout bounds a whole file):
 * the package test installs the tarball next to the newest registry version of every optional
 * peer, about 180 packages, a minute or two on an idle machine and several on a loaded one. It
 * bounds its own install and fails with npm's message rather than run into this.
 */
const FILE_TIMEOUT_MS: Readonly<Record<string, number>> = { 'package.test.js': 20 * 60_000 }
const DEFAULT_TIMEOUT_MS = 180_000

const PASSES = [
  { TXKIT_TEST_POSTGRES_DRIVER: 'node-postgres', TXKIT_TEST_MYSQL_DRIVER: 'mysql2' },
  { TXKIT_TEST_POSTGRES_DRIVER: 'postgres-js', TXKIT_TEST_MYSQL_DRIVER: 'mariadb' },
] as const

const directory = join('build', 'test')
const chosen = process.argv.slice(2)
const all = readdirSync(directory)
  .filter((name) => name.endsWith('.test.js'))
  .sort()
const files = chosen.length > 0 ? chosen.map((file) => file.replace(/^.*\//, '')) : all

let failed = false
for (const [index, drivers] of PASSES.entries()) {
  const selected = files.filter((file) => index === 0 || !DRIVER_NEUTRAL.has(file))
  if (selected.length === 0) continue
  const label = `${drivers.TXKIT_TEST_POSTGRES_DRIVER} + ${drivers.TXKIT_TEST_MYSQL_DRIVER}`
  console.log(`\n# pass ${index + 1}: ${label} (${selected.length} files)`)
  // Files sharing a timeout run in one node --test; the default group first, in file order.
  const groups = new Map<number, string[]>()
  for (const file of selected) {
    const timeout = FILE_TIMEOUT_MS[file] ?? DEFAULT_TIMEOUT_MS
    groups.set(timeout, [...(groups.get(timeout) ?? []), file])
  }
  for (const [timeout, group] of [...groups].sort(([a], [b]) => a - b)) {
    const result = spawnSync(
      process.execPath,
      [
        '--test',
        '--test-concurrency=1',
        `--test-timeout=${timeout}`,
        ...group.map((file) => join(directory, file)),
      ],
      { stdio: 'inherit', env: { ...process.env, ...drivers } },
    )
    if (result.status !== 0) {
      failed = true
      console.log(`# pass ${index + 1} (${label}) FAILED`)
    }
  }
}
process.exit(failed ? 1 : 0)
