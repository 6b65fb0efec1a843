import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { serversForFile } from '../harness/file-servers.js'
import { createCoordinator, createTransactionManager } from '../src/index.js'

const repository = fileURLToPath(new URL('../..', import.meta.url))
const servers = serversForFile({ mariadb: false })

describe('the package as a user installs it (it is not on the npm registry)', () => {
  test('npm pack, then npm install of the tarball: the CLI runs, every entry point loads, every map points at a shipped file', async () => {
    const work = mkdtempSync(join(tmpdir(), 'txkit-package-'))
    try {
      const packed = JSON.parse(
        execFileSync('npm', ['pack', '--json', '--pack-destination', work], {
          cwd: repository,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ) as Array<{ filename: string; files: Array<{ path: string }> }>
      const [tarball] = packed
      assert.ok(tarball)
      const shipped = new Set(tarball.files.map((file) => file.path))
      assert.ok(shipped.has('LICENSE'), 'the license ships')
      assert.ok(shipped.has('dist/index.js') && shipped.has('dist/index.d.ts'))
      // Source maps and declaration maps must resolve to files in the package.
      const maps = [...shipped].filter((path) => path.endsWith('.map'))
      assert.ok(maps.length > 0)
      const app = join(work, 'app')
      execFileSync('mkdir', ['-p', app])
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module' }))
      execFileSync('npm', ['install', '--no-audit', '--no-fund', join(work, tarball.filename)], {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
      })
      const installed = join(app, 'node_modules', 'txkit')
      for (const map of maps) {
        const { sources } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as {
          sources: string[]
        }
        for (const source of sources) {
          const target = resolve(dirname(join(installed, map)), source)
          assert.ok(existsSync(target), `${map} points at ${source}, which is not shipped`)
        }
      }
      const manifest = JSON.parse(readFileSync(join(repository, 'package.json'), 'utf8')) as {
        version: string
        license: string
      }
      assert.equal(manifest.license, 'MIT')
      const version = execFileSync(join(app, 'node_modules', '.bin', 'txkit'), ['--version'], {
        encoding: 'utf8',
      })
      assert.equal(version.trim(), manifest.version)
      const loaded = execFileSync(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `for (const entry of ['txkit', 'txkit/node-postgres', 'txkit/postgres-js', 'txkit/mysql2', 'txkit/mariadb', 'txkit/mssql', 'txkit/oracle', 'txkit/better-sqlite3']) {
             const module = await import(entry)
             console.log(entry, Object.keys(module).length)
           }`,
        ],
        { cwd: app, encoding: 'utf8' },
      )
      for (const entry of [
        'txkit',
        'txkit/node-postgres',
        'txkit/postgres-js',
        'txkit/mysql2',
        'txkit/mariadb',
        'txkit/mssql',
        'txkit/oracle',
        'txkit/better-sqlite3',
      ]) {
        assert.match(loaded, new RegExp(`^${entry} [1-9]\\d*$`, 'm'))
      }
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  })
})

describe('await using', () => {
  test('a coordinator disposed with await using deletes its finished decision rows at once', async () => {
    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) => servers.fixture.markedPg(servers.postgres, name)),
    )
    if (a === undefined || b === undefined) throw new Error('no databases')
    {
      await using coordinator = createCoordinator({ decisionLog: a.db })
      await coordinator.createDecisionLog()
      await coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
        await branches.a.query(`INSERT INTO marks VALUES ('disposed')`)
        await branches.b.query(`INSERT INTO marks VALUES ('disposed')`)
      })
    }
    // Without close(), the row would be deleted a second later in a batch.
    const { rowCount } = await a.pool.query('SELECT 1 FROM txkit_decision')
    assert.equal(rowCount, 0)
  })

  test('a transaction manager disposed with await using does the same', async () => {
    const [a, b] = await Promise.all(
      ['a', 'b'].map((name) => servers.fixture.markedPg(servers.postgres, name)),
    )
    if (a === undefined || b === undefined) throw new Error('no databases')
    {
      await using manager = createTransactionManager({ decisionLog: a.db })
      await manager.coordinator.createDecisionLog()
      await manager.run(async (tx) => {
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('managed')`)
        await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('managed')`)
      })
    }
    const { rowCount } = await a.pool.query('SELECT 1 FROM txkit_decision')
    assert.equal(rowCount, 0)
  })
})
