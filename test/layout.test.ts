import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { pathToFileURL } from 'node:url'

const root = resolve(import.meta.dirname, '..', '..')
const script = join(root, 'scripts', 'check-layout.mjs')
const { checkLayout } = (await import(pathToFileURL(script).href)) as {
  checkLayout: (root: string) => string[]
}
const { layoutReport } = (await import(
  pathToFileURL(join(root, 'scripts', 'layout-report.mjs')).href
)) as { layoutReport: (root: string) => string[] }

/** A throwaway source tree holding `files` (path under src/ → contents). */
function tree(files: Record<string, string>): string {
  const directory = mkdtempSync(join(tmpdir(), 'txkit-layout-'))
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(join(directory, 'src', path, '..'), { recursive: true })
    writeFileSync(join(directory, 'src', path), contents)
  }
  return directory
}

/** The layout problems of a throwaway tree holding `files`. */
function problemsOf(files: Record<string, string>): string[] {
  const directory = tree(files)
  try {
    return checkLayout(directory)
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
}

/** Asserts that one problem mentions every fragment (file names, counts, literals). */
function assertProblem(problems: readonly string[], ...fragments: string[]): void {
  assert.ok(
    problems.some((problem) => fragments.every((fragment) => problem.includes(fragment))),
    `no problem mentions ${fragments.join(' and ')}:\n${problems.join('\n')}`,
  )
}

const use = (...paths: string[]) =>
  `${paths.map((path, k) => `import { x${k} } from '${path}'`).join('\n')}\nexport const x = 1\n`

/** A small tree that follows the target layout, one file per layer and a few sub-folders. */
const clean: Record<string, string> = {
  'errors/configuration-error.ts': 'export class ConfigurationError extends Error {}\n',
  'util/once.ts': use('../errors/configuration-error.js'),
  'xid/xid.ts': use('../util/once.js'),
  'tracing/span.ts':
    "const api = await import('@opentelemetry/api' as string)\nexport const x = api\n",
  'driver/driver-connection.ts': use('../xid/xid.js', '../tracing/span.js'),
  'dialect/dialect.ts':
    "import type { DriverConnection } from '../driver/driver-connection.js'\nexport {}\n",
  'database/database.ts': use('../dialect/dialect.js', '../driver/driver-connection.js'),
  'records/decision-log.ts': use('../database/database.js'),
  'lock/database-lock.ts': use('../records/decision-log.js'),
  'preflight/check-deployment.ts': use('../records/decision-log.js'),
  'protocol/commit-protocol.ts': use('../lock/database-lock.js'),
  'protocol/protocol-step.ts': use('./commit-protocol.js', '../tracing/span.js'),
  'protocol/decision/decision-commit.ts': use('../commit-protocol.js', './decision-state.js'),
  'protocol/decision/decision-state.ts': 'export type DecisionState = { readonly kind: string }\n',
  'protocol/parallel/parallel-commit.ts': use('../protocol-step.js'),
  'commit/coordinator.ts': use(
    '../protocol/decision/decision-commit.js',
    '../protocol/parallel/parallel-commit.js',
    '../preflight/check-deployment.js',
  ),
  'recovery/recover.ts': use('../commit/coordinator.js'),
  'runner/runner.ts': use('../recovery/recover.js'),
  'manager/transaction-manager.ts': use('../runner/runner.js'),
  'kysely/kysely.ts': `import type { Kysely } from 'kysely'\n${use('../manager/transaction-manager.js')}`,
  'postgres/postgres-dialect.ts': use('../dialect/dialect.js', './drivers/pg/pg-connection.js'),
  'postgres/drivers/pg/pg-connection.ts': `import pg from 'pg'\n${use('../../../database/database.js')}\nexport const message = 'node-postgres needs a pool'\n`,
  'postgres/node-postgres.ts': "export * from './drivers/pg/pg-connection.js'\n",
  'cli/main.ts': `import { parseArgs } from 'node:util'\nimport pg from 'pg'\n${use('../postgres/postgres-dialect.js', '../index.js')}`,
  'index.ts': "export { x } from './manager/transaction-manager.js'\n",
  'manager/branch-pool.ts': [
    '// The pool of a driver (node-postgres, mysql2) is wrapped by its adapter, see',
    '// https://node-postgres.com/apis/pool: it isn\'t "ours" to sniff.',
    '/** Example: `pgDatabase(pool)` from "txkit/node-postgres"; don\'t name postgres here. */',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture is source text holding a template literal
    "export const message = (name: string) => `the pool ${name} isn't a txkit database`",
    'export const quote = /["\'`]/g',
    "export const half = (a: number, b: number) => a / 2 / b // 'pg' here is a comment",
    "export const word = 'pgbouncer-like names and oracles-ish words are not whole words'",
  ].join('\n'),
}

describe('the layout check', () => {
  test('the repository follows it', () => {
    const output = execFileSync(process.execPath, [script, root], { encoding: 'utf8' })
    assert.match(output, /every import follows docs\/architecture\.md/)
  })

  test('a tree that follows the target layout passes, from the command line too', () => {
    assert.deepEqual(problemsOf(clean), [])
    const directory = tree(clean)
    try {
      const run = spawnSync(process.execPath, [script, directory], { encoding: 'utf8' })
      assert.equal(run.status, 0, run.stderr)
      assert.match(run.stdout, /every import follows docs\/architecture\.md/)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })

  test('a capability importing a vendor, a vendor importing a capability, and a stray package fail it', () => {
    const directory = tree({
      'commit/coordinator.ts':
        "import { postgresDialect } from '../postgres/postgres-dialect.js'\nexport const x = postgresDialect\n",
      'postgres/postgres-dialect.ts':
        "import type { Coordinator } from '../commit/coordinator.js'\nimport pg from 'pg'\nexport const postgresDialect = {}\n",
      'dialect/dialect.ts':
        "import mysql from 'mysql2'\n/* import x from 'pg' in a comment is fine */\n",
      'lock/lock.ts': "const load = () => import('../mysql/mysql-dialect.js')\n",
      'mysql/mysql-dialect.ts': 'export {}\n',
      'index.ts': "export { pgDatabase } from './postgres/node-postgres-database.js'\n",
      'cli/main.ts': "import { pgDatabase } from '../postgres/node-postgres-database.js'\n",
    })
    try {
      const run = spawnSync(process.execPath, [script, directory], { encoding: 'utf8' })
      assert.equal(run.status, 1)
      const lines = run.stderr.split('\n').filter((line) => line.startsWith('layout: '))
      assert.match(
        run.stderr,
        /commit\/coordinator\.ts: imports \.\.\/postgres\/postgres-dialect\.js \(postgres\/postgres-dialect\.ts\), commit\/ \(layer 10\) may not import the vendor folder postgres\//,
      )
      assert.match(
        run.stderr,
        /postgres\/postgres-dialect\.ts: imports \.\.\/commit\/coordinator\.js \(commit\/coordinator\.ts\), a vendor folder imports layers 1–6 only/,
      )
      assert.match(run.stderr, /dialect\/dialect\.ts: imports the package "mysql2"/)
      assert.match(run.stderr, /lock\/lock\.ts: imports \.\.\/mysql\/mysql-dialect\.js/)
      assert.match(
        run.stderr,
        /import cycle: commit\/coordinator\.ts → postgres\/postgres-dialect\.ts → commit\/coordinator\.ts/,
      )
      assert.doesNotMatch(run.stderr, /cli\/main\.ts/, 'the CLI is an application: anything goes')
      assert.match(
        run.stderr,
        / index\.ts: imports \.\/postgres\/node-postgres-database\.js \(postgres\/node-postgres-database\.ts\), the root entry point may not import the vendor folder postgres\//,
      )
      assert.doesNotMatch(run.stderr, /"pg"/, 'a vendor names its own driver package')
      assert.equal(lines.length, 7, run.stderr)
      assert.match(lines.at(-1) ?? '', /6 problem\(s\) break the layout/)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })

  test('a folder imports only itself and strictly lower layers: a back-edge names both files', () => {
    const problems = problemsOf({
      ...clean,
      'driver/held-session.ts': use('../dialect/dialect.js'),
      'lock/lock-key.ts': use('../preflight/check-deployment.js'),
      'xid/format.ts': use('../tracing/span.js'),
      'records/fence-table.ts': use('../commit/coordinator.js'),
      'kysely/plugin.ts': use('../drizzle/drizzle.js'),
      'drizzle/drizzle.ts': use('../manager/transaction-manager.js'),
      'manager/cli-bridge.ts': use('../cli/main.js'),
      'util/entry.ts': use('../index.js'),
    })
    assertProblem(
      problems,
      'driver/held-session.ts: imports ../dialect/dialect.js (dialect/dialect.ts)',
      'driver/ (layer 4) may not import the higher dialect/ (layer 5)',
    )
    assertProblem(
      problems,
      'lock/lock-key.ts: imports ../preflight/check-deployment.js (preflight/check-deployment.ts)',
      'same-layer sibling preflight/',
    )
    assertProblem(problems, 'xid/format.ts', '(tracing/span.ts)', 'same-layer sibling tracing/')
    assertProblem(
      problems,
      'records/fence-table.ts',
      '(commit/coordinator.ts)',
      'records/ (layer 7) may not import the higher commit/ (layer 10)',
    )
    assertProblem(problems, 'kysely/plugin.ts', '(drizzle/drizzle.ts)', 'same-layer sibling')
    assertProblem(problems, 'manager/cli-bridge.ts', '(cli/main.ts)', 'nothing imports cli/')
    assertProblem(problems, 'util/entry.ts', '(index.ts)', 'nothing imports the root entry point')
    assert.equal(problems.length, 7, problems.join('\n'))
  })

  test('vendors import layers 1–6 and themselves; only cli/ imports a vendor', () => {
    const problems = problemsOf({
      ...clean,
      'postgres/drivers/pg/pg-guard.ts': use(
        '../../../records/decision-log.js',
        '../../postgres-dialect.js',
      ),
      'postgres/drivers/postgres-js/postgres-js-connection.ts': use('../pg/pg-connection.js'),
      'mysql/mysql-dialect.ts': use('../postgres/postgres-dialect.js', '../dialect/dialect.js'),
      'manager/branch-adapter.ts': use('../mysql/mysql-dialect.js'),
      'kysely/kysely-dialect.ts': use('../postgres/drivers/pg/pg-connection.js'),
    })
    assertProblem(
      problems,
      'postgres/drivers/pg/pg-guard.ts: imports ../../../records/decision-log.js (records/decision-log.ts)',
      'a vendor folder imports layers 1–6 only, not records/ (layer 7)',
    )
    assertProblem(
      problems,
      'mysql/mysql-dialect.ts: imports ../postgres/postgres-dialect.js (postgres/postgres-dialect.ts)',
      'may not import the vendor folder postgres/',
    )
    assertProblem(
      problems,
      'manager/branch-adapter.ts',
      '(mysql/mysql-dialect.ts)',
      'manager/ (layer 13) may not import the vendor folder mysql/: only cli/ does',
    )
    assertProblem(problems, 'kysely/kysely-dialect.ts', '(postgres/drivers/pg/pg-connection.ts)')
    assert.equal(problems.length, 4, problems.join('\n'))
  })

  test('a protocol folder imports protocol/ root files and lower layers, never a sibling protocol', () => {
    const problems = problemsOf({
      ...clean,
      'protocol/sequential/sequential-commit.ts': use(
        '../protocol-step.js',
        '../decision/decision-state.js',
      ),
      'protocol/protocols.ts': use('./parallel/parallel-commit.js'),
      'protocol/parallel/parallel-recovery.ts': use('../../commit/coordinator.js'),
    })
    assertProblem(
      problems,
      'protocol/sequential/sequential-commit.ts: imports ../decision/decision-state.js (protocol/decision/decision-state.ts)',
      'protocol/sequential/ may not import its sibling protocol/decision/',
    )
    assertProblem(
      problems,
      'protocol/protocols.ts',
      '(protocol/parallel/parallel-commit.ts)',
      "protocol/'s root files sit below protocol/parallel/",
    )
    assertProblem(
      problems,
      'protocol/parallel/parallel-recovery.ts',
      '(commit/coordinator.ts)',
      'protocol/ (layer 9) may not import the higher commit/ (layer 10)',
    )
    assert.equal(problems.length, 3, problems.join('\n'))
  })

  test('each folder names only its own packages, type-only imports included', () => {
    const problems = problemsOf({
      ...clean,
      'kysely/knex-bridge.ts': "import type { Knex } from 'knex'\nexport {}\n",
      'records/decision-rows.ts':
        "import pg from 'pg'\nimport { readFile } from 'node:fs/promises'\n",
      'mysql/drivers/mariadb/mariadb-connection.ts':
        "import type { Pool } from 'mariadb'\nconst mysql = await import('mysql2/promise')\nimport pg from 'pg'\n",
      'index.ts': "export type { Kysely } from 'kysely'\n",
    })
    assertProblem(problems, 'kysely/knex-bridge.ts: imports the package "knex"', 'kysely/')
    assertProblem(problems, 'records/decision-rows.ts: imports the package "pg"')
    assertProblem(problems, 'mysql/drivers/mariadb/mariadb-connection.ts: imports the package "pg"')
    assertProblem(problems, 'index.ts: imports the package "kysely"', 'the root entry point')
    assert.equal(problems.length, 4, problems.join('\n'))
  })

  test('an import cycle between files is reported once, its files in order', () => {
    const problems = problemsOf({
      ...clean,
      'commit/branch.ts':
        "import type { Coordinator } from './coordinator-options.js'\nexport {}\n",
      'commit/coordinator-options.ts': "export * from './branch.js'\n",
      'recovery/collect-garbage.ts':
        "export const rows = () => import('./decision-rows.js')\nexport {}\n",
      'recovery/decision-rows.ts': "import { sweep } from './sweep.js'\nexport {}\n",
      'recovery/sweep.ts':
        "import './collect-garbage.js'\nexport type T = typeof import('./sweep.js')\n",
    })
    assert.deepEqual(problems.filter((problem) => problem.startsWith('import cycle')).sort(), [
      'import cycle: commit/branch.ts → commit/coordinator-options.ts → commit/branch.ts',
      'import cycle: recovery/collect-garbage.ts → recovery/decision-rows.ts → recovery/sweep.ts → recovery/collect-garbage.ts',
      'import cycle: recovery/sweep.ts → recovery/sweep.ts',
    ])
    assert.equal(problems.length, 3, problems.join('\n'))
  })

  test('no file in src/ is over 350 lines, counted as wc -l counts them', () => {
    const problems = problemsOf({
      ...clean,
      'util/at-limit.ts': 'export {}\n'.repeat(350),
      'util/unterminated.ts': `${'export {}\n'.repeat(350)}export {}`,
      'cli/commands/recover.ts': 'export {}\n'.repeat(351),
    })
    assert.deepEqual(problems, [
      'cli/commands/recover.ts: 351 lines, over the limit of 350: split it by concept',
    ])
  })

  test('no string, template text or regular expression in a capability or integration names a database or driver', () => {
    const problems = problemsOf({
      ...clean,
      'commit/commit-error.ts': [
        "// Don't name 'postgres' in the message: https://www.postgresql.org/docs/ says why.",
        "export const a = 'connect to PostgreSQL first'",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the fixture is source text holding a template literal
        'export const b = (n: string) => `${n} runs on mysql2, not ${n ? "MariaDB" : `sql  server ${n}`}`',
        "export const c = 'it\\'s a pg pool'",
        'export const re = /[\'"`]/',
        "export const d = 'Oracle'",
        "export const e = 'post\\u0067res.js'",
        "export const broken = 'a string the tokenizer ends at its line",
        "export const g = 'MySQL'",
        'export const h = /mysql/i',
      ].join('\n'),
      'kysely/kysely-error.ts':
        '/** Throws "needs a node-postgres pool". */\nexport const f = "better-sqlite3"\n',
      'prisma/provider.ts': "export const kinds = ['postgresql', 'sqlite'] as const\n",
      'dialect/dialect-names.ts': "export const core = 'postgres'\n",
      'postgres/postgres-names.ts': "export const own = 'postgres'\n",
      'cli/main.ts': "export const help = 'txkit recover --url postgres://...'\n",
    })
    assertProblem(
      problems,
      'commit/commit-error.ts:2: the string "connect to PostgreSQL first" names postgresql',
    )
    assertProblem(
      problems,
      'commit/commit-error.ts:3: the string " runs on mysql2, not " names mysql2',
    )
    assertProblem(problems, 'commit/commit-error.ts:3: the string "MariaDB" names mariadb')
    assertProblem(problems, 'commit/commit-error.ts:3: the string "sql  server " names sql  server')
    assertProblem(problems, 'commit/commit-error.ts:4:', 'names pg')
    assertProblem(problems, 'commit/commit-error.ts:6: the string "Oracle" names oracle')
    assertProblem(problems, 'commit/commit-error.ts:7:', 'names postgres.js')
    assertProblem(problems, 'commit/commit-error.ts:9: the string "MySQL" names mysql')
    assertProblem(problems, 'commit/commit-error.ts:10: the string "/mysql/i" names mysql')
    assertProblem(
      problems,
      'kysely/kysely-error.ts:2: the string "better-sqlite3" names better-sqlite3',
    )
    assertProblem(problems, 'prisma/provider.ts:1: the string "postgresql" names postgresql')
    assertProblem(problems, 'prisma/provider.ts:1: the string "sqlite" names sqlite')
    assert.equal(problems.length, 12, problems.join('\n'))
  })

  test('a folder with no place in the layout fails it', () => {
    const problems = problemsOf({ ...clean, 'helpers/retry.ts': use('../util/once.js') })
    assert.deepEqual(problems, [
      'helpers/retry.ts: folder "helpers" has no place in the layout (add it to scripts/check-layout.mjs and docs/architecture.md)',
    ])
  })

  test('the report counts what the check refuses, on any tree', () => {
    const directory = tree({
      ...clean,
      'driver/held-session.ts': use('../dialect/dialect.js'),
      'commit/a.ts': "import './b.js'\nexport const m = 'mysql'\n",
      'commit/b.ts': "import './a.js'\n",
      'util/names.ts': "export const n = 'sqlite'\n",
      'legacy/old.ts': 'export {}\n'.repeat(400),
    })
    try {
      const report = layoutReport(directory).join('\n')
      assert.match(report, /files over 350 lines: 1\n +400 {2}legacy\/old\.ts/)
      assert.match(
        report,
        /import cycles between files: 1\n {2}commit\/a\.ts → commit\/b\.ts → commit\/a\.ts/,
      )
      assert.match(
        report,
        /folder back-edges: 1\n {2}driver\/held-session\.ts → dialect\/dialect\.ts/,
      )
      assert.match(report, /outside vendor folders: 2 \(1 in capabilities and integrations/)
      assert.match(report, / 1 {2}util\/ {2}\(not checked\)/)
      assert.match(report, / 1 {2}commit\/\n/)
      assert.match(report, /folders with no place in the layout: 1\n {2}legacy\/ \(1 file\)/)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
