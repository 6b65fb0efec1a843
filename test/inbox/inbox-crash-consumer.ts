/**
 * A consumer in a child process, for the inbox's fault tests: handles one transfer message through
 * the inbox (the bank of inbox-bank.ts) and kills itself with SIGKILL at the protocol step named in
 * its settings, so that its transaction is left where a crash there leaves it. Prints
 * `OUTCOME <applied|duplicate>` when it lives to the end.
 *
 * Settings come as JSON in TXKIT_INBOX_CRASH: { savings, payments (URLs), inboxOn ('savings' |
 * 'payments'), prefix, messageId, amount, killAt?: { step, when } }.
 */
import type { CrashPoint } from '../../harness/crash-coordinator.js'
import { openMysql, openPostgres } from '../../harness/drivers.js'
import { createInbox } from '../../src/inbox/inbox.js'
import { createTransactionManager } from '../../src/index.js'

export interface ConsumerSettings {
  readonly savings: string
  readonly payments: string
  readonly inboxOn: 'savings' | 'payments'
  readonly prefix: string
  readonly messageId: string
  readonly amount: number
  readonly killAt?: CrashPoint
}

async function main(): Promise<void> {
  const settings = JSON.parse(process.env.TXKIT_INBOX_CRASH ?? '{}') as ConsumerSettings
  const savings = openPostgres(settings.savings, 'savings', 2).db
  const payments = (await openMysql(settings.payments, 'payments', 2)).db
  const manager = createTransactionManager({
    decisionLog: savings,
    prefix: settings.prefix,
    onStep: (event) => {
      const point = settings.killAt
      if (point !== undefined && point.step === event.step && point.when === event.when) {
        process.kill(process.pid, 'SIGKILL')
      }
    },
  })
  const inbox = createInbox({
    manager,
    database: settings.inboxOn === 'savings' ? savings : payments,
    consumer: 'bank',
  })
  const outcome = await inbox.handle<{ amount: number }>(
    {
      id: settings.messageId,
      destination: 'transfers',
      key: null,
      headers: {},
      body: Buffer.from(JSON.stringify({ amount: settings.amount })),
      contentType: 'application/json',
    },
    async ({ amount }, tx) => {
      const from = await tx.join('savings', savings)
      await from.query("UPDATE accounts SET balance = balance - $1 WHERE id = 'alice'", [amount])
      const to = await tx.join('payments', payments)
      await to.query("UPDATE accounts SET balance = balance + ? WHERE id = 'bob'", [amount])
    },
  )
  process.stdout.write(`OUTCOME ${outcome}\n`)
  await manager.close()
  process.exit(0)
}

main().catch((error: unknown) => {
  process.stdout.write(`ERROR ${String(error)}\n`)
  process.exit(3)
})
