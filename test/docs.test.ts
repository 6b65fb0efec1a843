/**
 * The checks test/readme.test.ts runs over the README and docs/ (harness/markdown-docs.ts), shown
 * catching what they exist to catch, on pages written here: a checker that finds nothing wrong
 * with the real pages proves little until it is seen failing.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  brokenLinks,
  fencedBlocks,
  githubSlug,
  headingAnchors,
  markdownLinks,
  uncheckedBlocks,
  unknownScripts,
} from '../harness/markdown-docs.js'

/** A repository of the given files in a temporary folder, removed after `check`. */
function withRepository(files: Record<string, string>, check: (root: string) => void): void {
  const root = mkdtempSync(join(tmpdir(), 'txkit-docs-'))
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(root, path, '..'), { recursive: true })
      writeFileSync(join(root, path), text)
    }
    check(root)
  } finally {
    rmSync(root, { recursive: true, force: true })
  }
}

describe('the docs checker', () => {
  test('anchors follow GitHub: lower case, punctuation dropped, spaces made -, repeats numbered', () => {
    assert.equal(
      githubSlug('The `parallel` protocol (opt-in: committed after one phase)'),
      'the-parallel-protocol-opt-in-committed-after-one-phase',
    )
    assert.equal(
      githubSlug('The Quick start with postgres.js and the mariadb connector'),
      'the-quick-start-with-postgresjs-and-the-mariadb-connector',
    )
    assert.equal(githubSlug('Keys: `lock_id` & [more](x.md)'), 'keys-lock_id--more')
    assert.deepEqual(
      [...headingAnchors('# Locks\n\n## Locks\n\n```sh\n# not a heading\n```\n### Locks\n')],
      ['locks', 'locks-1', 'locks-2'],
    )
  })

  test('a broken file link and a broken anchor fail; good ones, other sites and code pass', () => {
    withRepository(
      {
        'README.md': [
          '# txkit',
          '',
          'See [locks](docs/locks.md), [keys](docs/locks.md#keys), [model](model/),',
          '[the site](https://example.com/missing) and `[code](nowhere.md)`.',
          '',
          '```sh',
          'echo [not a link](nowhere.md)',
          '```',
          '',
          'Broken: [runner](docs/runner.md) and [no such',
          'heading](docs/locks.md#fencing).',
          '',
          '## Install',
          '',
          'Back to [Install](#install); [gone](#quick-start).',
          '',
        ].join('\n'),
        'docs/locks.md': '# Locks\n\nBack [home](../README.md#install).\n\n## Keys\n',
        'model/check.sh': '',
      },
      (root) => {
        assert.deepEqual(brokenLinks(root, 'docs/locks.md'), [])
        assert.deepEqual(brokenLinks(root, 'README.md'), [
          'README.md:10: docs/runner.md: no such file or folder docs/runner.md',
          'README.md:11: docs/locks.md#fencing: no heading of docs/locks.md has this anchor',
          'README.md:15: #quick-start: no heading of README.md has this anchor',
        ])
      },
    )
  })

  test('a link out of the repository, an empty one or an anchor into code fails', () => {
    withRepository(
      { 'README.md': '[a](../outside.md) [b]() [c](src/x.ts#L3)\n', 'src/x.ts': '' },
      (root) => {
        assert.deepEqual(brokenLinks(root, 'README.md'), [
          'README.md:1: ../outside.md: outside the repository',
          'README.md:1: : an empty link',
          'README.md:1: src/x.ts#L3: an anchor into a file that is not Markdown',
        ])
      },
    )
  })

  test('blocks are found with their language, line and body, indented ones too', () => {
    const text = '# t\n\n```ts\nconst a = 1\n```\n\n- item:\n\n  ```ts\n  const b = 2\n  ```\n'
    assert.deepEqual(fencedBlocks(text), [
      { language: 'ts', body: 'const a = 1\n', line: 3 },
      { language: 'ts', body: 'const b = 2\n', line: 9 },
    ])
    assert.deepEqual(
      markdownLinks('```ts\n// [a](b.md)\n```\n[c](d.md)\n').map((link) => link.target),
      ['d.md'],
    )
    assert.throws(() => fencedBlocks('```ts\nconst a = 1\n'), /line 1: a fence opened here/)
  })

  test('a block neither TypeScript nor text fails: it would be shown and never compiled', () => {
    const text =
      '```typescript\nconst a: number = 1\n```\n\n```\nplain\n```\n\n```sh\nnpm test\n```\n'
    assert.deepEqual(
      uncheckedBlocks('docs/page.md', text).map((problem) => problem.split(':').slice(0, 2)),
      [
        ['docs/page.md', '1'],
        ['docs/page.md', '5'],
      ],
    )
  })

  test('an npm script that package.json does not define fails', () => {
    assert.deepEqual(
      unknownScripts(
        'README.md',
        'npm run demo\n`npm run --silent bench -- --only commit`\nnpm run benchmark\n',
        {
          demo: '',
          bench: '',
        },
      ),
      ['README.md:3: npm run benchmark: package.json has no such script'],
    )
  })
})
