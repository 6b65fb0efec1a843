/**
 * What `npm test` runs and the time it gives each file (harness/test-plan.ts): checked without
 * running anything, so that a long soak or a grown crash matrix is given the time its work takes.
 */
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { describe, test } from 'node:test'
import {
  CRASH_TEST_TIMEOUT_MS,
  crashMatrixBoundMs,
  crashMatrixSize,
  TOPOLOGIES,
} from '../harness/crash-points.js'
import {
  DRIVER_NEUTRAL,
  FILE_TIMEOUT_MS,
  fileTimeoutMs,
  SOAK_FILE,
  selectFiles,
  soakSeconds,
  testFiles,
  testPlan,
} from '../harness/test-plan.js'

const built = [...testFiles(import.meta.dirname).keys()]
const repository = join(import.meta.dirname, '..', '..')

/** The timeout of `file` in each pass that runs it. */
function timeoutsOf(file: string, env: NodeJS.ProcessEnv): number[] {
  return testPlan([file, 'locks.test.js'], env).flatMap((pass) =>
    pass.runs.filter((run) => run.files.includes(file)).map((run) => run.timeoutMs),
  )
}

describe('the test plan', () => {
  test('TXKIT_SOAK_SECONDS=600: the soak file is given its 600 s and the checks after them, in both passes', () => {
    const env = { TXKIT_SOAK_SECONDS: '600' }
    assert.equal(soakSeconds(env), 600)
    const timeouts = timeoutsOf(SOAK_FILE, env)
    assert.equal(timeouts.length, 2, 'run in both driver passes')
    for (const timeout of timeouts) {
      assert.ok(timeout >= 2 * 600_000, `${timeout} ms: the soak runs 600 s, then checks them`)
    }
    // Alone in its run: the other files keep the usual limit.
    for (const pass of testPlan([SOAK_FILE, 'locks.test.js'], env)) {
      assert.deepEqual(
        pass.runs.map((run) => [run.files, run.timeoutMs]),
        [
          [[SOAK_FILE], FILE_TIMEOUT_MS + 1_200_000],
          [['locks.test.js'], FILE_TIMEOUT_MS],
        ],
      )
    }
  })

  test('the default 60 s soak fits its time; a soak setting that is not a number is refused', () => {
    assert.equal(soakSeconds({}), 60)
    assert.ok(fileTimeoutMs(SOAK_FILE, {}) >= FILE_TIMEOUT_MS + 60_000)
    for (const raw of ['ten', '-5', '0', 'Infinity']) {
      assert.throws(
        () => fileTimeoutMs(SOAK_FILE, { TXKIT_SOAK_SECONDS: raw }),
        /TXKIT_SOAK_SECONDS is a number of seconds > 0/,
      )
    }
  })

  test('each crash matrix file is given every one of its tests at its own bound', () => {
    assert.deepEqual(
      TOPOLOGIES.map((topology) => crashMatrixSize(topology)),
      [59, 59, 87],
      'every variant of every topology: 205 tests, as in the one file before',
    )
    for (const topology of TOPOLOGIES) {
      assert.ok(built.includes(topology.file), `${topology.file} is built`)
      const timeout = fileTimeoutMs(topology.file, {})
      assert.ok(timeout >= crashMatrixSize(topology) * CRASH_TEST_TIMEOUT_MS)
      assert.equal(timeout, FILE_TIMEOUT_MS + crashMatrixBoundMs(topology))
    }
  })

  test('driver-neutral files run once, the others in both passes; a pattern selects files', () => {
    const plan = testPlan(['xid.test.js', 'locks.test.js'], {})
    assert.deepEqual(
      plan.map((pass) => [pass.label, pass.runs.flatMap((run) => run.files)]),
      [
        ['node-postgres + mysql2', ['xid.test.js', 'locks.test.js']],
        ['postgres-js + mariadb', ['locks.test.js']],
      ],
    )
    for (const file of DRIVER_NEUTRAL) assert.ok(built.includes(file), `${file} is built`)
    const all = ['crash-matrix-pg-pg.test.js', 'crash-matrix-pg.test.js', 'locks.test.js']
    assert.deepEqual(selectFiles(all, ['crash-matrix*.test.js', 'build/test/locks.test.js']), all)
    assert.deepEqual(selectFiles(all, ['crash-matrix-pg.test.js']), ['crash-matrix-pg.test.js'])
    assert.deepEqual(selectFiles(all, ['*pg-pg*', 'crash-matrix-pg-pg.test.js']), [
      'crash-matrix-pg-pg.test.js',
    ])
    assert.deepEqual(selectFiles(built, []), built)
    assert.throws(() => selectFiles(built, ['nothing*.test.js']), /no test file matches/)
  })

  test('test files sit in folders named as the src/ folders they test, each name once', () => {
    const sources = new Set(
      readdirSync(join(repository, 'src'), { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name),
    )
    for (const [name, path] of testFiles(import.meta.dirname)) {
      const folder = dirname(path)
      assert.ok(
        folder === '.' || sources.has(folder),
        `${name} is in test/${folder}/, not a src/ folder`,
      )
    }
    const directory = mkdtempSync(join(tmpdir(), 'txkit-test-files-'))
    try {
      for (const folder of ['commit', 'recovery']) {
        mkdirSync(join(directory, folder))
        writeFileSync(join(directory, folder, 'faults.test.js'), '')
      }
      assert.throws(
        () => testFiles(directory),
        /two test files are named faults\.test\.js: commit\/faults\.test\.js and recovery\/faults\.test\.js/,
      )
    } finally {
      rmSync(directory, { recursive: true, force: true })
    }
  })
})
