import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

const repository = fileURLToPath(new URL('../..', import.meta.url))

describe('npm run demo', () => {
  test('conserves the money through a crash, and explains the words and columns it shows', () => {
    const run = spawnSync(process.execPath, ['build/demo/transfers.js'], {
      cwd: repository,
      encoding: 'utf8',
      timeout: 120_000,
    })
    assert.equal(run.status, 0, run.stdout + run.stderr)
    assert.match(run.stdout, /Money conserved after the crash: yes; prepared transactions left: 0/)
    for (const word of [
      /coordinator: the process/,
      /decision: the 'C' row/,
      /prepared branch: one database's part/,
    ]) {
      assert.match(run.stdout, word)
    }
    for (const column of [
      /GTRID: the transaction id/,
      /DATABASES: where a branch/,
      /DECISION: what the decision log says/,
      /RECOVER WOULD: what txkit recover does/,
    ]) {
      assert.match(run.stdout, column)
    }
  })
})
