/** When the CLI's progress output prints, told the progress of rounds made up here. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { progressPrinter } from '../../src/cli/progress-printer.js'
import { StatusLine } from '../../src/cli/status-line.js'
import type { RecoveryProgress } from '../../src/index.js'

const round = (done: number, finishingMs: number, final = false): RecoveryProgress => ({
  done,
  total: 10,
  committed: done,
  rolledBack: 0,
  left: 0,
  failed: 0,
  startedAt: new Date(0).toISOString(),
  // The scans took 20 s: a sequential round's wait between them.
  elapsedMs: 20_000 + finishingMs,
  finishingMs,
  final,
})

function records() {
  const seen: Array<{ done: number; total: number }> = []
  const logger = {
    info: (fields: object) => seen.push(fields as { done: number; total: number }),
    warn() {},
    error() {},
  }
  return { seen, logger }
}

describe('progress output', () => {
  test('a round that finishes its transactions quickly prints nothing, however long its scans took', () => {
    const { seen, logger } = records()
    let written = ''
    const line = new StatusLine((text) => {
      written += text
    })
    for (const options of [{}, { line }]) {
      const print = progressPrinter({
        label: 'txkit recover',
        logger,
        everyMs: 2000,
        quietMs: 1000,
        ...options,
      })
      for (let done = 0; done <= 10; done++) print(round(done, done * 50))
      print(round(10, 500, true))
    }
    assert.deepEqual(seen, [])
    assert.equal(written, '')
  })

  test('records every interval of the finishing, and a last one at the total', () => {
    const { seen, logger } = records()
    const print = progressPrinter({ label: 'txkit watch', logger, everyMs: 5000, quietMs: 5000 })
    for (let done = 0; done <= 10; done++) print(round(done, done * 1000))
    print(round(10, 10_000, true))
    assert.deepEqual(
      seen.map((record) => record.done),
      [5, 10, 10],
    )
  })

  test('on a terminal: redrawn at most every 100 ms, cleared at the end', () => {
    const { seen, logger } = records()
    let written = ''
    const line = new StatusLine((text) => {
      written += text
    })
    const print = progressPrinter({
      label: 'txkit recover',
      logger,
      line,
      everyMs: 2000,
      quietMs: 1000,
    })
    for (let done = 0; done <= 10; done++) print(round(done, 1000 + done * 60))
    print(round(10, 1600, true))
    assert.deepEqual(seen, [])
    const draws = written.split('\r\u001b[K').filter((text) => text !== '')
    assert.deepEqual(draws, [
      'txkit recover: 0/10 (0%), 0/s',
      'txkit recover: 2/10 (20%), 1.8/s, 5s to go',
      'txkit recover: 4/10 (40%), 3.2/s, 2s to go',
      'txkit recover: 6/10 (60%), 4.4/s, 1s to go',
      'txkit recover: 8/10 (80%), 5.4/s, 1s to go',
      'txkit recover: 10/10 (100%), 6.3/s, 0s to go',
    ])
    assert.ok(written.endsWith('\r\u001b[K'), 'cleared at the end')
  })
})
