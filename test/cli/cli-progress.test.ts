/**
 * `txkit recover` and `txkit watch` over a backlog: a long round shows how far it is on stderr
 * (a line redrawn in place on a terminal, count records otherwise), stdout keeps only the report,
 * and a short round prints nothing more than before. `TXKIT_PROGRESS_MS` (for tests) shortens
 * every progress interval so that a round of a second shows it.
 */
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { prepareBacklog } from '../../harness/prepared-backlog.js'
import { runCli, runCliOnTerminal, runningCli } from '../../harness/run-cli.js'
import { startPostgres, type TestServer } from '../../harness/test-databases.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers
let server: TestServer

before(async () => {
  server = await startPostgres({ maxPreparedTransactions: 400 })
})

/** Carriage return, then erase to the end of the line: a line redrawn in place. */
const CLEAR_LINE = '\r\u001b[K'
const BACKLOG = 300
const FAST = { TXKIT_PROGRESS_MS: '1' }
let backlogs = 0

/**
 * `count` transactions in doubt: a prepared branch in b each, its 'C' decision row in a; answers
 * the arguments that select them.
 */
async function backlog(count: number): Promise<string[]> {
  const [a, b] = await Promise.all(['a', 'b'].map((name) => fixture.markedPg(server, name)))
  if (a === undefined || b === undefined) throw new Error('no databases')
  await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
  const prefix = `prog${'abcdefghij'[backlogs++] ?? 'z'}`
  const started = (Date.now() - 60_000).toString(36).padStart(9, '0')
  const gtrids = Array.from(
    { length: count },
    (_, index) => `${prefix}.${started}${index.toString(16).padStart(16, '0')}`,
  )
  await prepareBacklog(b.pool, gtrids)
  await a.pool.query(
    `INSERT INTO txkit_decision (gtrid, outcome, participants) SELECT g, 'C', '["a","b"]' FROM unnest($1::varchar[]) g`,
    [gtrids],
  )
  return [
    '--db',
    `a=${a.url}`,
    '--db',
    `b=${b.url}`,
    '--decision-log',
    'a',
    '--prefix',
    prefix,
    '--min-age',
    '0s',
    '--concurrency',
    '1',
  ]
}

/** The counts of the text records `message done=N total=M …` in `text`, in order. */
function textRecords(text: string, message: string): Array<{ done: number; total: number }> {
  const pattern = new RegExp(` info ${message} done=(\\d+) total=(\\d+) `, 'g')
  return [...text.matchAll(pattern)].map((match) => ({
    done: Number(match[1]),
    total: Number(match[2]),
  }))
}

/** Several records, never going back, the last at the total. */
function assertCounting(records: ReadonlyArray<{ done: number; total: number }>, text: string) {
  assert.ok(records.length >= 2, `progress records: ${records.length}\n${text.slice(-2000)}`)
  for (const [index, record] of records.entries()) {
    assert.equal(record.total, BACKLOG)
    if (index > 0) assert.ok(record.done >= (records[index - 1]?.done ?? 0), 'counts never go back')
  }
  assert.ok((records[0]?.done ?? 0) < BACKLOG, 'the first record comes before the end')
  assert.equal(records.at(-1)?.done, BACKLOG, 'the last record is at the total')
}

const SUMMARY = new RegExp(`^${BACKLOG} committed, 0 rolled back, 0 left, 0 failed \\(\\d+ ms\\)$`)

describe('txkit recover shows a long round’s progress', () => {
  test('without a terminal: count records on stderr rise to the total; stdout is the report alone', async () => {
    const result = await runCli(['recover', ...(await backlog(BACKLOG))], FAST)
    assert.equal(result.code, 0, result.stderr.slice(-2000))
    assertCounting(textRecords(result.stderr, 'txkit recover: progress'), result.stderr)
    const lines = result.stdout.trimEnd().split('\n')
    assert.equal(lines.length, BACKLOG + 1, 'a line per transaction, then the summary')
    assert.match(lines.at(-1) ?? '', SUMMARY)
    assert.doesNotMatch(result.stdout, /progress|\r/)
  })

  test('--json: the records are JSON lines on stderr; stdout parses as the report', async () => {
    const result = await runCli(['recover', ...(await backlog(BACKLOG)), '--json'], FAST)
    assert.equal(result.code, 0, result.stderr.slice(-2000))
    const records = result.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { message: string; done: number; total: number })
      .filter((record) => record.message === 'txkit recover: progress')
    assertCounting(records, result.stderr)
    const report = JSON.parse(result.stdout) as { counts: { committed: number } }
    assert.equal(report.counts.committed, BACKLOG)
  })

  test('on a terminal: one line redrawn in place (done/total, rate, time to go), cleared before the report', async () => {
    const result = await runCliOnTerminal(['recover', ...(await backlog(BACKLOG))], FAST)
    assert.equal(result.code, 0, result.stdout.slice(-2000))
    const output = result.stdout
    const redraws = [
      ...output.matchAll(
        new RegExp(
          `${CLEAR_LINE.replace('[', '\\[')}txkit recover: (\\d+)/(\\d+) \\(\\d+%\\), [\\d.]+/s(, \\S+ to go)?`,
          'g',
        ),
      ),
    ]
    assert.ok(
      redraws.length >= 2,
      `redraws: ${redraws.length}\n${JSON.stringify(output.slice(-1500))}`,
    )
    assert.ok(
      redraws.some((redraw) => redraw[3] !== undefined),
      'a time to go is shown',
    )
    const done = redraws.map((redraw) => Number(redraw[1]))
    assert.ok(done.every((value, index) => index === 0 || value >= (done[index - 1] ?? 0)))
    assert.ok((done.at(-1) ?? 0) > (done[0] ?? 0), 'the count rises')
    // After the last clear, no progress line: the report is printed on a clean line.
    const tail = output.slice(output.lastIndexOf(CLEAR_LINE) + CLEAR_LINE.length)
    assert.doesNotMatch(tail, /txkit recover: \d+\//)
    assert.match(tail.replaceAll('\r', ''), new RegExp(SUMMARY.source, 'm'))
    assert.doesNotMatch(output, /info txkit recover: progress/, 'no records on a terminal')
  })

  test('a short round prints no progress, on a terminal or not', async () => {
    const args = ['recover', ...(await backlog(3))]
    const piped = await runCli(args)
    assert.equal(piped.code, 0, piped.stderr)
    assert.doesNotMatch(piped.stderr, /progress/)
    assert.match(piped.stdout.trimEnd().split('\n').at(-1) ?? '', /^3 committed, 0 rolled back/)
    const terminal = await runCliOnTerminal(['recover', ...(await backlog(3))])
    assert.equal(terminal.code, 0, terminal.stdout)
    assert.ok(!terminal.stdout.includes(CLEAR_LINE), 'no line redrawn')
    assert.doesNotMatch(terminal.stdout, /progress|\/3 \(/)
  })
})

describe('txkit watch logs a long round’s progress', () => {
  test('count records through its logger while the round runs, the last at the total', async () => {
    const watch = runningCli(['watch', ...(await backlog(BACKLOG)), '--interval', '1h'], FAST)
    try {
      const deadline = Date.now() + 120_000
      while (!/round done/.test(watch.stderr()) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.match(watch.stderr(), /round done committed=300 /)
      assertCounting(textRecords(watch.stderr(), 'txkit watch: progress'), watch.stderr())
    } finally {
      await watch.stop()
    }
  })
})
