/**
 * What `--help` says of exit codes and defaults is what the commands do.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { runCli } from '../../harness/run-cli.js'
import { leaveInDoubt } from '../../harness/run-crash-coordinator.js'

const servers = serversForFile({ mariadb: false })
const { fixture } = servers

describe('txkit --help tells what the commands do', () => {
  test('status exits 3 with a transaction in doubt, as its help and the main help say', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    const b = await fixture.markedPg(servers.postgres, 'b')
    await fixture.coordinator({ decisionLog: a.db }).createDecisionLog()
    await leaveInDoubt({
      decision: { name: 'a', url: a.url },
      other: { name: 'b', url: b.url },
      prefix: 'help',
      marker: 'in-doubt',
    })
    const status = await runCli([
      'status',
      '--db',
      `a=${a.url}`,
      '--db',
      `b=${b.url}`,
      // --decision-databases alone selects the decision protocol, as --protocol's help says.
      '--decision-databases',
      'a',
      '--prefix',
      'help',
      '--min-age',
      '0',
    ])
    assert.equal(status.code, 3, status.stdout + status.stderr)
    assert.match(status.stdout, /^help\.\S+\s+decision\s+b\s+\S+\s+commit\s+commit$/m)

    const help = (await runCli(['status', '--help'])).stdout
    assert.match(
      help,
      /Exit codes: 0 none in doubt; 3 some in doubt that recover would finish now or a later\nround will; 1 some that need a person/,
    )
    assert.doesNotMatch(help, /Exit code 1 when any is in doubt/)
    assert.match(
      help,
      /--protocol P {11}decision \| sequential \| all \(default: decision with --decision-log\n {25}or --decision-databases or both, else sequential\)/,
    )
    assert.match(
      (await runCli(['--help'])).stdout,
      /3 work left for a later round\n\(too young, a decision still open, a branch still attached to its session\), and for status,\nanything in doubt that recover would finish now\./,
    )
  })
})
