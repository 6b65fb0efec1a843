/**
 * `txkit watch` refuses at start what would fail every round: it exits 2, as status and recover
 * do, instead of running forever to no purpose.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { runCli } from '../../harness/run-cli.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

describe('txkit watch checks its options at start', () => {
  test('a bad --prefix, --table or --fence-table: exit 2 with the message status gives', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
    const selection = ['--db', `a=${a.url}`, '--decision-log', 'a']
    const cases: Array<[string[], RegExp]> = [
      [['--prefix', 'BAD!'], /Invalid deployment prefix "BAD!": use 1 to 8 lowercase letters/],
      [['--table', 'x;y'], /Invalid decision log table name/],
      [['--fence-table', 'x;y'], /Invalid fence table name/],
    ]
    for (const [bad, message] of cases) {
      const status = await runCli(['status', ...selection, ...bad])
      assert.equal(status.code, 2, status.stderr)
      assert.match(status.stderr, message)
      const watch = await runCli(['watch', ...selection, ...bad, '--interval', '50ms'], {}, 20_000)
      assert.equal(watch.code, 2, `watch ${bad.join(' ')} still ran: ${watch.stderr}`)
      assert.equal(watch.stderr, status.stderr)
    }
  })

  test('--interval below 10ms (0 would run rounds back to back): exit 2 naming the minimum', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    for (const interval of ['0', '0ms', '5ms']) {
      const watch = await runCli(
        ['watch', '--db', `a=${a.url}`, '--interval', interval],
        {},
        20_000,
      )
      assert.equal(watch.code, 2, `--interval ${interval} still ran: ${watch.stderr}`)
      assert.match(
        watch.stderr,
        /--interval is the pause between rounds: at least 10ms \(30s by default\)/,
      )
    }
  })
})
