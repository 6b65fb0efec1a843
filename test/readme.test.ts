import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const repository = fileURLToPath(new URL('../..', import.meta.url))

describe('README code blocks', () => {
  test('every ```ts block type-checks against the real API (the Quick start is a program of its own)', () => {
    const readme = readFileSync(join(repository, 'README.md'), 'utf8')
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```\n/g)].map((match) => match[1] ?? '')
    assert.ok(blocks.length >= 6, `found ${blocks.length} blocks`)
    const programs = [
      'quick-start.ts',
      'postgres-js-mariadb.ts',
      'kysely-orders.ts',
      'drizzle-orders.ts',
      'knex-orders.ts',
      'typeorm-orders.ts',
      'prisma-orders.ts',
    ].map((file) => readFileSync(join(repository, 'examples', file), 'utf8'))
    const fragments = blocks.filter((block) => !programs.includes(block))
    assert.equal(
      fragments.length,
      blocks.length - programs.length,
      'the programs are README blocks',
    )
    // Inside the repository, so that 'txkit' resolves to the package itself, as it will for users.
    const folder = join(repository, 'build', 'readme-blocks')
    rmSync(folder, { recursive: true, force: true })
    mkdirSync(folder, { recursive: true })
    const files = fragments.map((block, index) => {
      const file = `block-${index + 1}.ts`
      // A fragment is a module of its own: top-level await, and names scoped to it.
      writeFileSync(join(folder, file), `${block}\nexport {}\n`)
      return file
    })
    writeFileSync(
      join(folder, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.base.json',
        compilerOptions: { noEmit: true, noUnusedLocals: false, types: ['node'] },
        files: ['../../examples/readme-context.d.ts', ...files],
      }),
    )
    const tsc = join(repository, 'node_modules', 'typescript', 'bin', 'tsc')
    const run = spawnSync(process.execPath, [tsc, '-p', join(folder, 'tsconfig.json')], {
      encoding: 'utf8',
    })
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
  })
})
