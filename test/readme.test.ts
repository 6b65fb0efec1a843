/**
 * The README and the pages of docs/ stay true: every TypeScript block compiles against the real
 * API (the complete programs are examples/*.ts, which test/examples.test.ts runs), every block is
 * either TypeScript or text, every `npm run` names a script, and every link resolves.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import {
  brokenLinks,
  documentationFiles,
  fencedBlocks,
  uncheckedBlocks,
  unknownScripts,
} from '../harness/markdown-docs.js'

const repository = fileURLToPath(new URL('../..', import.meta.url))
const files = documentationFiles(repository)
const texts = new Map(files.map((file) => [file, readFileSync(join(repository, file), 'utf8')]))

describe('README and docs/ code blocks', () => {
  test('every ```ts block type-checks against the real API (the complete programs are examples/)', () => {
    const blocks = files.flatMap((file) =>
      fencedBlocks(texts.get(file) ?? '')
        .filter((block) => block.language === 'ts')
        .map((block) => ({ ...block, file })),
    )
    assert.ok(blocks.length >= 17, `found ${blocks.length} blocks`)
    // The programs are compiled with the rest of the repository (tsconfig.dev.json) and run by
    // test/examples.test.ts; each is shown, whole, in a README or docs block.
    const programs = readdirSync(join(repository, 'examples'))
      .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))
      .map((name) => ({ name, text: readFileSync(join(repository, 'examples', name), 'utf8') }))
    for (const program of programs) {
      assert.ok(
        blocks.some((block) => block.body === program.text),
        `examples/${program.name} is a block of the README or docs/`,
      )
    }
    const fragments = blocks.filter(
      (block) => !programs.some((program) => program.text === block.body),
    )
    // Inside the repository, so that 'txkit' resolves to the package itself, as it will for users.
    const folder = join(repository, 'build', 'readme-blocks')
    rmSync(folder, { recursive: true, force: true })
    mkdirSync(folder, { recursive: true })
    // Named after where the block is, so that a compiler error points at the page and line.
    const names = fragments.map((block) => {
      const name = `${block.file.replace(/[/.]/g, '-')}-line-${block.line}.ts`
      // A fragment is a module of its own: top-level await, and names scoped to it.
      writeFileSync(join(folder, name), `${block.body}\nexport {}\n`)
      return name
    })
    writeFileSync(
      join(folder, 'tsconfig.json'),
      JSON.stringify({
        extends: '../../tsconfig.base.json',
        compilerOptions: { noEmit: true, noUnusedLocals: false, types: ['node'] },
        files: ['../../examples/readme-context.d.ts', ...names],
      }),
    )
    const tsc = join(repository, 'node_modules', 'typescript', 'bin', 'tsc')
    const run = spawnSync(process.execPath, [tsc, '-p', join(folder, 'tsconfig.json')], {
      encoding: 'utf8',
    })
    assert.equal(run.status, 0, `${run.stdout}${run.stderr}`)
  })

  test('every block is TypeScript (compiled) or text: none is shown unchecked', () => {
    assert.deepEqual(
      files.flatMap((file) => uncheckedBlocks(file, texts.get(file) ?? '')),
      [],
    )
  })

  test('every `npm run` names a script of package.json', () => {
    const { scripts } = JSON.parse(readFileSync(join(repository, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>
    }
    assert.deepEqual(
      files.flatMap((file) => unknownScripts(file, texts.get(file) ?? '', scripts)),
      [],
    )
  })
})

describe('README and docs/ links', () => {
  test('every relative link names a file of the repository, every #anchor a heading', () => {
    assert.deepEqual(
      files.flatMap((file) => brokenLinks(repository, file)),
      [],
    )
  })

  test('every page of docs/ is linked from the README', () => {
    const readme = texts.get('README.md') ?? ''
    for (const file of files.filter((name) => name !== 'README.md')) {
      assert.ok(readme.includes(`](${file})`), `the README links ${file}`)
    }
  })

  test('every page starts with its title, then what it is for', () => {
    for (const file of files.filter((name) => name !== 'README.md')) {
      const [title, blank, purpose] = (texts.get(file) ?? '').split('\n')
      assert.match(title ?? '', /^# \S/, `${file} starts with a # title`)
      assert.equal(blank, '', `${file}: a blank line after the title`)
      assert.match(purpose ?? '', /^[A-Z`]/, `${file}: what the page is for, under the title`)
    }
  })
})

describe('the README opens with the two commands', () => {
  test('the demo and the test command come first, and CI runs that test command', () => {
    const first = fencedBlocks(texts.get('README.md') ?? '')[0]
    assert.equal(first?.language, 'sh')
    assert.equal(first?.line, 3, 'right under the title')
    const commands = (first?.body ?? '').split('\n').map((line) => line.replace(/\s+#.*$/, ''))
    assert.deepEqual(commands.slice(0, 2), ['npm ci && npm run demo', 'npm test'])
    const ci = readFileSync(join(repository, '.ci', 'run'), 'utf8').split('\n')
    assert.ok(ci.includes('npm test'), '.ci/run runs the README test command')
  })
})
