import assert from 'node:assert/strict'
import { execFile, execFileSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type mysql from 'mysql2/promise'
import { serversForFile } from '../harness/file-servers.js'
import { createCoordinator, createTransactionManager } from '../src/index.js'

const repository = fileURLToPath(new URL('../..', import.meta.url))
const servers = serversForFile()

/**
 * The install of every optional peer is bound by the registry's answers (about 180 packages):
 * seconds on a fast network, minutes on a slow one. Past this it is reported, never waited on.
 */
const INSTALL_TIMEOUT_MS = 12 * 60_000

interface Finished {
  readonly status: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a command to its end (or `timeoutMs`, then SIGTERM) without blocking the event loop. */
function run(
  command: string,
  args: readonly string[],
  options: { readonly cwd: string; readonly timeoutMs: number; readonly env?: NodeJS.ProcessEnv },
): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      {
        cwd: options.cwd,
        timeout: options.timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
        env: options.env ?? process.env,
      },
      (error, stdout, stderr) => {
        const failure = error as (Error & { code?: unknown; signal?: NodeJS.Signals }) | null
        resolve({
          status: failure === null ? 0 : typeof failure.code === 'number' ? failure.code : null,
          signal: failure?.signal ?? null,
          stdout,
          stderr,
        })
      },
    )
  })
}

/** The last lines of what a command said, for a failure message. */
function tail(text: string, lines = 25): string {
  return text.trim().split('\n').slice(-lines).join('\n')
}

/**
 * Fails at once, saying why, when the registry cannot be reached: without this the install would
 * retry for minutes before npm gave up.
 */
async function assertRegistryReachable(cwd: string): Promise<void> {
  const registry = execFileSync('npm', ['config', 'get', 'registry'], { cwd, encoding: 'utf8' })
  const ping = await run('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=20000'], {
    cwd,
    timeoutMs: 60_000,
  })
  if (ping.status !== 0) {
    throw new Error(
      `The npm registry (${registry.trim()}) cannot be reached: \`npm ping\` ${
        ping.signal === null ? `exited with ${ping.status}` : `gave no answer within 60 s`
      }. This test installs the packed tarball next to the newest registry version of every optional peer, as a user's npm install does, so it needs the registry.\n${ping.stderr
        .split('\n')
        .filter((line) => /npm error (code|FetchError|\d{3} )/.test(line))
        .join('\n')}`,
    )
  }
}

interface Manifest {
  readonly version: string
  readonly license: string
  readonly peerDependencies: Record<string, string>
  readonly peerDependenciesMeta: Record<string, { readonly optional?: boolean }>
}

describe('the package as a user installs it (it is not on the npm registry)', () => {
  test('npm pack, then npm install of the tarball next to the newest registry version of every optional peer: it resolves, the CLI runs, every entry point loads, the examples type-check and commit', {
    timeout: INSTALL_TIMEOUT_MS + 5 * 60_000,
  }, async (t) => {
    const work = mkdtempSync(join(tmpdir(), 'txkit-package-'))
    try {
      await assertRegistryReachable(work)
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
      const manifest = JSON.parse(
        readFileSync(join(repository, 'package.json'), 'utf8'),
      ) as Manifest
      assert.equal(manifest.license, 'MIT')
      const peers = Object.keys(manifest.peerDependencies).sort()
      for (const peer of peers) {
        assert.equal(
          manifest.peerDependenciesMeta[peer]?.optional,
          true,
          `${peer} is an optional peer`,
        )
      }
      const app = join(work, 'app')
      mkdirSync(app)
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', type: 'module' }))
      // As a user types it: the tarball and each driver or tool by name, no version, no
      // --legacy-peer-deps (set false, against an npmrc that sets it), nothing pinned to the
      // lockfile. npm picks each package's newest version that this Node.js can run.
      const install = await run(
        'npm',
        [
          'install',
          '--no-audit',
          '--no-fund',
          '--legacy-peer-deps=false',
          '--fetch-retries=1',
          '--fetch-timeout=60000',
          join(work, tarball.filename),
          ...peers,
        ],
        { cwd: app, timeoutMs: INSTALL_TIMEOUT_MS },
      )
      assert.equal(
        install.status,
        0,
        `npm install of the tarball next to ${peers.join(', ')} ${
          install.signal === null
            ? `failed (exit ${install.status})`
            : `did not finish within ${INSTALL_TIMEOUT_MS / 60_000} minutes`
        }:\n${tail(install.stderr)}`,
      )

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
      const version = execFileSync(join(app, 'node_modules', '.bin', 'txkit'), ['--version'], {
        encoding: 'utf8',
      })
      assert.equal(version.trim(), manifest.version)
      const entries = Object.keys(
        (
          JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
            exports: Record<string, unknown>
          }
        ).exports,
      )
        .filter((entry) => entry.endsWith('.json') === false)
        .map((entry) => entry.replace(/^\./, 'txkit'))
      assert.ok(entries.includes('txkit/postgres-js') && entries.includes('txkit/kysely'))
      const loaded = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `for (const entry of ${JSON.stringify(entries)}) {
               const module = await import(entry)
               console.log(entry, Object.keys(module).length)
             }`,
        ],
        { cwd: app, timeoutMs: 120_000 },
      )
      assert.equal(loaded.status, 0, loaded.stderr)
      for (const entry of entries) {
        assert.match(loaded.stdout, new RegExp(`^${entry} [1-9]\\d*$`, 'm'))
      }

      // The README's postgres.js example, compiled against the installed types (a user's
      // TypeScript sees what postgres.js declares) and run against the installed drivers.
      copyFileSync(
        join(repository, 'examples', 'postgres-js-mariadb.ts'),
        join(app, 'postgres-js-mariadb.ts'),
      )
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module: 'nodenext',
            target: 'es2022',
            lib: ['es2023', 'esnext.disposable'],
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
            typeRoots: [join(repository, 'node_modules', '@types')],
          },
          files: ['postgres-js-mariadb.ts'],
        }),
      )
      const compiled = await run(
        process.execPath,
        [join(repository, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
        { cwd: app, timeoutMs: 180_000 },
      )
      assert.equal(
        compiled.status,
        0,
        `the example does not compile against the installed package:\n${compiled.stdout}`,
      )
      for (const example of ['postgres-js-mariadb', 'quick-start']) {
        copyFileSync(
          join(repository, 'build', 'examples', `${example}.js`),
          join(app, `${example}.js`),
        )
        await runExample(app, `${example}.js`)
      }
      await assertNewestVersions(t, app, peers)
    } finally {
      rmSync(work, { recursive: true, force: true })
    }
  })
})

/**
 * Each peer is the registry's latest, or (npm passes over a latest this Node.js cannot run) an
 * older one whose latest declares engines. Says which was installed, for the log.
 */
async function assertNewestVersions(
  t: { diagnostic(message: string): void },
  app: string,
  peers: readonly string[],
): Promise<void> {
  const found = await Promise.all(
    peers.map(async (peer) => {
      const { version } = JSON.parse(
        readFileSync(join(app, 'node_modules', peer, 'package.json'), 'utf8'),
      ) as { version: string }
      const view = await run('npm', ['view', peer, 'version', 'engines', '--json'], {
        cwd: app,
        timeoutMs: 120_000,
      })
      assert.equal(view.status, 0, `npm view ${peer}: ${tail(view.stderr, 6)}`)
      // The latest version's fields; npm prints the value alone when only one field has one.
      const latest = JSON.parse(view.stdout) as
        | string
        | { version: string; engines?: { node?: string } }
      return typeof latest === 'string'
        ? { peer, version, latest, engines: undefined }
        : { peer, version, latest: latest.version, engines: latest.engines?.node }
    }),
  )
  for (const { peer, version, latest, engines } of found) {
    t.diagnostic(
      `${peer}@${version}${version === latest ? ' (latest)' : ` (latest ${latest} needs node ${engines})`}`,
    )
    assert.ok(
      version === latest || engines !== undefined,
      `${peer}: npm installed ${version}, not the latest ${latest}, which declares no engines`,
    )
  }
}

/** Runs a built example in the app against fresh databases; checks what it says it did. */
async function runExample(app: string, file: string): Promise<void> {
  const mariadb = servers.mariadb
  assert.ok(mariadb, 'MariaDB is up')
  const accountsUrl = await servers.postgres.createDatabase()
  const ledgerUrl = await mariadb.createDatabase()
  const ran = await run(process.execPath, [file], {
    cwd: app,
    timeoutMs: 120_000,
    env: { ...process.env, ACCOUNTS_URL: accountsUrl, LEDGER_URL: ledgerUrl },
  })
  assert.equal(ran.status, 0, `${file}: exit ${ran.status} ${ran.signal ?? ''}: ${ran.stderr}`)
  assert.match(ran.stdout, /committed in both databases/)
  const accounts = servers.fixture.pg(accountsUrl, 'accounts')
  const ledger = await servers.fixture.mysql(ledgerUrl, 'ledger')
  assert.deepEqual((await accounts.pool.query('SELECT balance FROM accounts')).rows, [
    { balance: 90 },
  ])
  const [entries] = await ledger.pool.query<mysql.RowDataPacket[]>(
    'SELECT account_id, amount FROM entries',
  )
  assert.deepEqual(
    entries.map((row) => [row.account_id, row.amount]),
    [[1, -10]],
  )
  assert.deepEqual((await accounts.pool.query('SELECT gid FROM pg_prepared_xacts')).rows, [])
}

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
