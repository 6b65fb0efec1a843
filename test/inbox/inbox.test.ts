/**
 * The inbox: a consumer applies each received message's effects exactly once across a PostgreSQL
 * and a MariaDB database, with the inbox table in either; redeliveries (sequential, concurrent, after
 * a lost ack), a failing handler, several consumers, garbage collection, refused input.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { serversForFile } from '../../harness/file-servers.js'
import { createInbox } from '../../src/inbox/inbox.js'
import { createInboxTable, inboxTableSql } from '../../src/inbox/inbox-table.js'
import {
  isConfigurationError,
  isMessageRefusedError,
  isTransactionStateError,
} from '../../src/index.js'
import {
  deliverUntilAcked,
  type InboxSide,
  openBank,
  received,
  type Transfer,
  waitForLockWaiters,
} from './inbox-bank.js'

const servers = serversForFile()
const sides: InboxSide[] = ['PostgreSQL', 'MariaDB']

for (const side of sides) {
  describe(`inbox on ${side}`, () => {
    test('a message delivered five times in a row is applied once', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const inbox = bank.inbox('bank')
      const message = received('transfer-1', { amount: 30 })
      const outcomes = []
      for (let i = 0; i < 5; i++) outcomes.push(await inbox.handle(message, bank.transfer))
      assert.deepEqual(outcomes, ['applied', 'duplicate', 'duplicate', 'duplicate', 'duplicate'])
      assert.deepEqual(await bank.balances(), [70, 30])
      assert.deepEqual(await bank.inboxRows(), ['bank/transfer-1'])
      assert.equal(await inbox.applied('transfer-1'), true)
      assert.equal(await inbox.applied('transfer-2'), false)
    })

    test('five deliveries at once: four wait for the first one’s row, then find it committed', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const inbox = bank.inbox('bank')
      const message = received('transfer-c', { amount: 10 })
      let runs = 0
      const outcomes = await Promise.all(
        Array.from({ length: 5 }, () =>
          deliverUntilAcked<Transfer>(inbox, message, async (payload, tx, delivered) => {
            runs += 1
            assert.equal(delivered.id, 'transfer-c')
            // Every other delivery passed the read and waits on this one's uncommitted row.
            await waitForLockWaiters(bank, 4)
            await bank.transfer(payload, tx, delivered)
          }),
        ),
      )
      assert.equal(runs, 1, 'the handler ran once')
      assert.deepEqual([...outcomes].sort(), [
        'applied',
        'duplicate',
        'duplicate',
        'duplicate',
        'duplicate',
      ])
      assert.deepEqual(await bank.balances(), [90, 10])
      assert.deepEqual(await bank.inboxRows(), ['bank/transfer-c'])
    })

    test('two deliveries at once: when the first rolls back, the waiting one applies it', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const inbox = bank.inbox('bank')
      const message = received('transfer-r', { amount: 5 })
      let runs = 0
      const settled = await Promise.allSettled(
        [1, 2].map(() =>
          deliverUntilAcked<Transfer>(inbox, message, async (payload, tx, delivered) => {
            runs += 1
            if (runs === 1) {
              await bank.transfer(payload, tx, delivered)
              await waitForLockWaiters(bank, 1)
              throw new Error('the first delivery fails')
            }
            await bank.transfer(payload, tx, delivered)
          }),
        ),
      )
      assert.equal(runs, 2)
      const applied = settled.filter((s) => s.status === 'fulfilled')
      const failed = settled.filter((s) => s.status === 'rejected')
      assert.deepEqual(
        applied.map((s) => s.value),
        ['applied'],
      )
      assert.match(String(failed[0]?.reason), /the first delivery fails/)
      assert.deepEqual(await bank.balances(), [95, 5])
      assert.deepEqual(await bank.inboxRows(), ['bank/transfer-r'])
    })

    test('a handler that throws leaves nothing anywhere; the redelivery applies the message', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const inbox = bank.inbox('bank')
      const message = received('transfer-f', { amount: 40 })
      await assert.rejects(
        inbox.handle<Transfer>(message, async (payload, tx, delivered) => {
          await bank.transfer(payload, tx, delivered)
          throw new Error('downstream said no')
        }),
        /downstream said no/,
      )
      assert.deepEqual(await bank.balances(), [100, 0])
      assert.deepEqual(await bank.inboxRows(), [])
      assert.equal(await inbox.handle(message, bank.transfer), 'applied')
      assert.deepEqual(await bank.balances(), [60, 40])
      assert.deepEqual(await bank.inboxRows(), ['bank/transfer-f'])
    })

    test('a handler that dooms its transaction is not acknowledged', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const inbox = bank.inbox('bank')
      await assert.rejects(
        inbox.handle<Transfer>(received('transfer-d', { amount: 1 }), async (payload, tx, m) => {
          await bank.transfer(payload, tx, m)
          tx.doom()
        }),
        (error) => isTransactionStateError(error) && /not acknowledged/.test(error.message),
      )
      assert.deepEqual(await bank.balances(), [100, 0])
      assert.deepEqual(await bank.inboxRows(), [])
    })

    test('an ack lost after the commit: the redelivery is a duplicate, the handler does not run', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const onMessage = bank.inbox('bank').handler(bank.transfer)
      const message = received('transfer-a', { amount: 25 })
      assert.equal(await onMessage(message), 'applied')
      // The broker never got the ack (the consumer died, the channel closed): it delivers again.
      let ran = false
      const again = bank.inbox('bank').handler<Transfer>(async () => {
        ran = true
      })
      assert.equal(await again(message), 'duplicate')
      assert.equal(ran, false)
      assert.deepEqual(await bank.balances(), [75, 25])
    })

    test('two consumers each apply a message once', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const billing = bank.inbox('billing')
      const audit = bank.inbox('audit')
      const message = received('transfer-2c', { amount: 10 })
      const outcomes = await Promise.all([
        billing.handle(message, bank.transfer),
        audit.handle(message, bank.transfer),
        billing.handle(message, bank.transfer),
      ])
      assert.deepEqual([...outcomes].sort(), ['applied', 'applied', 'duplicate'])
      assert.equal(await billing.handle(message, bank.transfer), 'duplicate')
      assert.equal(await audit.handle(message, bank.transfer), 'duplicate')
      assert.deepEqual(await bank.balances(), [80, 20], 'once per consumer')
      assert.deepEqual(await bank.inboxRows(), ['audit/transfer-2c', 'billing/transfer-2c'])
    })

    test('garbage collection deletes one consumer’s old ids in batches', async (t) => {
      const bank = await openBank(servers, t, side)
      if (bank === undefined) return
      const billing = bank.inbox('billing')
      const audit = bank.inbox('audit')
      const none = async () => {}
      for (let i = 0; i < 7; i++) await billing.handle(received(`old-${i}`, {}), none)
      await audit.handle(received('old-0', {}), none)
      await billing.handle(received('new-0', {}), none)
      const past =
        side === 'PostgreSQL'
          ? "now() - interval '8 days'"
          : 'CURRENT_TIMESTAMP(6) - INTERVAL 8 DAY'
      await bank.inboxQuery(
        `UPDATE txkit_inbox SET received_at = ${past} WHERE message_id LIKE 'old-%'`,
      )
      assert.deepEqual(await billing.collectGarbage({ olderThan: 9 * 24 * 3600_000 }), {
        deleted: 0,
        batches: 1,
      })
      assert.deepEqual(await billing.collectGarbage({ batchSize: 3 }), { deleted: 7, batches: 3 })
      assert.deepEqual(await bank.inboxRows(), ['audit/old-0', 'billing/new-0'])
      await assert.rejects(billing.collectGarbage({ olderThan: 0 }), isConfigurationError)
      await assert.rejects(
        billing.collectGarbage({ retention: 5 } as never),
        (error) => isConfigurationError(error) && /Unknown option "retention"/.test(error.message),
      )
    })
  })
}

describe('inbox input', () => {
  test('options, consumer names, tables and messages are checked; a bad message touches nothing', async (t) => {
    const bank = await openBank(servers, t, 'PostgreSQL')
    if (bank === undefined) return
    const { manager, savings } = bank
    assert.throws(
      () => createInbox({ manager, database: savings.db, consumer: 'x', retries: 3 } as never),
      (error) => isConfigurationError(error) && /Unknown option "retries"/.test(error.message),
    )
    for (const consumer of ['', ' billing', 'x'.repeat(101), 'a\nb', 7]) {
      assert.throws(
        () => createInbox({ manager, database: savings.db, consumer } as never),
        (error) => isConfigurationError(error) && /consumer/.test(error.message),
      )
    }
    assert.throws(
      () => createInbox({ manager: {}, database: savings.db, consumer: 'x' } as never),
      (error) => isConfigurationError(error) && /transaction manager/.test(error.message),
    )
    assert.throws(
      () => createInbox({ manager, database: savings.db, consumer: 'x', table: 'a;b' }),
      isConfigurationError,
    )
    await assert.rejects(createInboxTable(savings.db, { name: 'x' } as never), isConfigurationError)
    assert.match(inboxTableSql(savings.db, { table: 'ops.inbox' }).join('\n'), /"ops"\."inbox"/)

    const inbox = bank.inbox('bank')
    let ran = false
    const work = async () => {
      ran = true
    }
    for (const id of ['', 'a b', 'x'.repeat(129), 'é', undefined]) {
      await assert.rejects(
        inbox.handle({ ...received('ok', {}), id } as never, work),
        (error) => isMessageRefusedError(error) && error.reason === 'id',
      )
    }
    await assert.rejects(
      inbox.handle({ ...received('bad-json', {}), body: Buffer.from('{nope') }, work),
      (error) => isMessageRefusedError(error) && error.reason === 'payload',
    )
    await assert.rejects(inbox.handle(null as never, work), isMessageRefusedError)
    await assert.rejects(inbox.applied('a b'), isMessageRefusedError)
    assert.equal(ran, false)
    assert.deepEqual(await bank.inboxRows(), [])
    const elsewhere = createInbox({
      manager,
      database: savings.db,
      consumer: 'x',
      table: 'ops.inbox',
    })
    await assert.rejects(
      elsewhere.handle(received('id-0', 'x'), work),
      (error) =>
        isConfigurationError(error) &&
        /inbox table ops\.inbox is missing in database "savings": create it with createInboxTable\(database, \{ table: 'ops\.inbox' \}\)/.test(
          error.message,
        ),
    )
    // A name of 100 characters, any script, is a consumer.
    const long = createInbox({ manager, database: savings.db, consumer: 'ü'.repeat(100) })
    assert.equal(await long.handle(received('id-1', 'x'), work), 'applied')
    assert.deepEqual(await bank.inboxRows(), [`${'ü'.repeat(100)}/id-1`])
  })
})
