/**
 * The inbox across a crash: a consumer process SIGKILLed in the middle of its transaction's
 * commit, recovery, then the broker's redelivery: the transfer is applied exactly once, whether
 * the crash left the transaction to be rolled back or committed.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { CrashPoint } from '../../harness/crash-coordinator.js'
import { serversForFile } from '../../harness/file-servers.js'
import { createInbox } from '../../src/inbox/inbox.js'
import { isOutcomeUnknownError, recover } from '../../src/index.js'
import { type Bank, type InboxSide, openBank, received } from './inbox-bank.js'
import type { ConsumerSettings } from './inbox-crash-consumer.js'

const servers = serversForFile()
const script = fileURLToPath(new URL('./inbox-crash-consumer.js', import.meta.url))

function prefix(): string {
  return `ib${[...randomBytes(6)].map((byte) => String.fromCharCode(97 + (byte % 26))).join('')}`
}

/** Runs the consumer child; answers how it ended and what it printed. */
function runConsumer(
  settings: ConsumerSettings,
): Promise<{ output: string; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, TXKIT_INBOX_CRASH: JSON.stringify(settings) },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString()
    })
    child.on('error', reject)
    child.on('exit', (_code, signal) => resolve({ output, signal }))
  })
}

async function crashThenRecover(bank: Bank, side: InboxSide, killAt: CrashPoint, id: string) {
  const run = await runConsumer({
    savings: bank.savings.url,
    payments: bank.payments.url,
    inboxOn: side === 'PostgreSQL' ? 'savings' : 'payments',
    prefix: bank.prefix,
    messageId: id,
    amount: 30,
    killAt,
  })
  assert.equal(run.signal, 'SIGKILL', `the consumer was killed at ${killAt.step}: ${run.output}`)
  assert.equal(run.output, '', 'the consumer never answered, so the message was never acked')
  return recover({
    databases: [bank.savings.db, bank.payments.db],
    decisionLog: bank.savings.db,
    prefix: bank.prefix,
    minAge: 0,
  })
}

const cases: ReadonlyArray<{
  side: InboxSide
  killAt: CrashPoint
  recovered: 'rolled-back' | 'committed'
}> = [
  // The inbox branch is prepared, no decision yet: recovery rolls it back, the redelivery applies.
  { side: 'MariaDB', killAt: { step: 'prepare', when: 'after' }, recovered: 'rolled-back' },
  // The decision is made (committed with the PostgreSQL branch), the inbox branch still prepared:
  // recovery commits it, the redelivery finds the id.
  { side: 'MariaDB', killAt: { step: 'decision', when: 'after' }, recovered: 'committed' },
  { side: 'PostgreSQL', killAt: { step: 'prepare', when: 'after' }, recovered: 'rolled-back' },
  { side: 'PostgreSQL', killAt: { step: 'decision', when: 'after' }, recovered: 'committed' },
]

describe('inbox consumer killed mid-commit', () => {
  for (const { side, killAt, recovered } of cases) {
    test(`inbox on ${side}, killed ${killAt.when} ${killAt.step}: recovery ${recovered === 'committed' ? 'commits' : 'rolls back'}, the redelivery applies it exactly once`, async (t) => {
      const bank = await openBank(servers, t, side, { prefix: prefix() })
      if (bank === undefined) return
      const id = `crash-${killAt.step}`
      const report = await crashThenRecover(bank, side, killAt, id)
      const actions = report.transactions.map((transaction) => transaction.action)
      assert.deepEqual(
        actions,
        [recovered === 'committed' ? 'committed' : 'rolled-back'],
        JSON.stringify(report.transactions),
      )
      const after = recovered === 'committed' ? [70, 30] : [100, 0]
      assert.deepEqual(await bank.balances(), after)
      assert.deepEqual(await bank.inboxRows(), recovered === 'committed' ? [`bank/${id}`] : [])

      // The broker redelivers the unacknowledged message.
      const inbox = bank.inbox('bank')
      const outcome = await inbox.handle(received(id, { amount: 30 }), bank.transfer)
      assert.equal(outcome, recovered === 'committed' ? 'duplicate' : 'applied')
      assert.equal(await inbox.handle(received(id, { amount: 30 }), bank.transfer), 'duplicate')
      assert.deepEqual(await bank.balances(), [70, 30], 'applied exactly once')
      assert.deepEqual(await bank.inboxRows(), [`bank/${id}`])
    })
  }

  test('inbox on PostgreSQL, killed after the decision: the redelivery is a duplicate before recovery runs', async (t) => {
    const bank = await openBank(servers, t, 'PostgreSQL', { prefix: prefix() })
    if (bank === undefined) return
    const run = await runConsumer({
      savings: bank.savings.url,
      payments: bank.payments.url,
      inboxOn: 'savings',
      prefix: bank.prefix,
      messageId: 'early',
      amount: 30,
      killAt: { step: 'decision', when: 'after' },
    })
    assert.equal(run.signal, 'SIGKILL')
    // The id committed with the decision: acknowledging now is safe, recovery owes the rest.
    assert.equal(
      await bank.inbox('bank').handle(received('early', { amount: 30 }), bank.transfer),
      'duplicate',
    )
    assert.deepEqual(await bank.balances(), [70, 0], 'the payments branch is still prepared')
    const report = await recover({
      databases: [bank.savings.db, bank.payments.db],
      decisionLog: bank.savings.db,
      prefix: bank.prefix,
      minAge: 0,
    })
    assert.deepEqual(
      report.transactions.map((transaction) => transaction.action),
      ['committed'],
    )
    assert.deepEqual(await bank.balances(), [70, 30])
  })

  test('a commit whose outcome is unknown is not acknowledged; after recovery the redelivery is a duplicate', async (t) => {
    const bank = await openBank(servers, t, 'PostgreSQL', { prefix: prefix() })
    if (bank === undefined) return
    // The decision database reached through a proxy that cuts the line once the decision's
    // COMMIT is on its way: the commit happens, its answer is lost.
    const viaProxy = await servers.fixture.pgThroughProxy(bank.savings.url, 'savings')
    const manager = await servers.fixture.manager({
      decisionLog: viaProxy.db,
      prefix: bank.prefix,
      onStep: (event) => {
        if (event.step === 'decision' && event.when === 'before') viaProxy.proxy.cutAfter('COMMIT')
      },
    })
    const inbox = createInbox({ manager, database: viaProxy.db, consumer: 'bank' })
    const message = received('unknown-1', { amount: 30 })
    let caught: unknown
    await inbox
      .handle<{ amount: number }>(message, async ({ amount }, tx) => {
        const from = await tx.join('savings', viaProxy.db)
        await from.query("UPDATE accounts SET balance = balance - $1 WHERE id = 'alice'", [amount])
        const to = await tx.join('payments', bank.payments.db)
        await to.query("UPDATE accounts SET balance = balance + ? WHERE id = 'bob'", [amount])
      })
      .catch((error: unknown) => {
        caught = error
      })
    assert.equal(viaProxy.proxy.cuts, 1)
    assert.ok(isOutcomeUnknownError(caught), String(caught))
    const report = await recover({
      databases: [bank.savings.db, bank.payments.db],
      decisionLog: bank.savings.db,
      prefix: bank.prefix,
      minAge: 0,
    })
    assert.deepEqual(
      report.transactions.map((transaction) => transaction.action),
      ['committed'],
    )
    assert.equal(await bank.inbox('bank').handle(message, bank.transfer), 'duplicate')
    assert.deepEqual(await bank.balances(), [70, 30], 'applied exactly once')
    assert.deepEqual(await bank.inboxRows(), ['bank/unknown-1'])
  })
})
