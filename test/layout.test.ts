import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { describe, test } from 'node:test'

const root = resolve(import.meta.dirname, '..', '..')
const script = join(root, 'scripts', 'check-layout.mjs')

/** A throwaway source tree holding `files` (path under src/ → contents). */
function tree(files: Record<string, string>): string {
  const directory = mkdtempSync(join(tmpdir(), 'txkit-layout-'))
  for (const [path, contents] of Object.entries(files)) {
    mkdirSync(join(directory, 'src', path, '..'), { recursive: true })
    writeFileSync(join(directory, 'src', path), contents)
  }
  return directory
}

describe('the layout check', () => {
  test('the repository follows it', () => {
    const output = execFileSync(process.execPath, [script, root], { encoding: 'utf8' })
    assert.match(output, /every import follows docs\/architecture\.md/)
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
        /commit\/coordinator\.ts: imports \.\.\/postgres\/postgres-dialect\.js \(postgres\/\)/,
      )
      assert.match(
        run.stderr,
        /postgres\/postgres-dialect\.ts: imports \.\.\/commit\/coordinator\.js \(commit\/\)/,
      )
      assert.match(run.stderr, /dialect\/dialect\.ts: imports the package "mysql2"/)
      assert.match(run.stderr, /lock\/lock\.ts: imports \.\.\/mysql\/mysql-dialect\.js/)
      assert.match(run.stderr, /index\.ts: imports \.\/postgres\/node-postgres-database\.js/)
      assert.doesNotMatch(run.stderr, /cli\/main\.ts/, 'the CLI is an application: anything goes')
      assert.doesNotMatch(run.stderr, /"pg"/, 'a vendor names its own driver package')
      assert.equal(lines.length, 6, run.stderr)
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
