/**
 * The inbox tests' bank: an account in a PostgreSQL database (`savings`) and one in a MariaDB
 * database (`payments`), a transaction manager keeping its decisions in `savings`, and the
 * inbox table in one of the two. A `transfer` message moves money from the PostgreSQL account to
 * the MariaDB one.
 */
import type { TestContext } from 'node:test'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import type { FileServers } from '../../harness/file-servers.js'
import {
  createInbox,
  type Inbox,
  type InboxOutcome,
  type InboxWork,
} from '../../src/inbox/inbox.js'
import { createInboxTable } from '../../src/inbox/inbox-table.js'
import {
  type Database,
  isRetryableTransactionError,
  type TransactionManager,
} from '../../src/index.js'
import type { ReceivedMessage } from '../../src/message/received-message.js'

export type InboxSide = 'PostgreSQL' | 'MariaDB'

export interface Transfer {
  readonly amount: number
}

export interface Bank {
  readonly savings: { pool: pg.Pool; db: Database; url: string }
  readonly payments: { pool: mysql.Pool; db: Database; url: string }
  readonly manager: TransactionManager
  /** The manager's transaction id prefix (recovery's too). */
  readonly prefix: string
  /** Where the inbox table is. */
  readonly inboxDb: Database
  inbox(consumer: string): Inbox
  /** Moves `amount` from savings (PostgreSQL) to payments (MariaDB). */
  readonly transfer: InboxWork<Transfer>
  /** [savings balance, payments balance] */
  balances(): Promise<[number, number]>
  /** The inbox's rows, as `consumer/message_id`, sorted. */
  inboxRows(): Promise<string[]>
  /** Runs `sql` (with `?` placeholders) on the inbox database through the test's own pool. */
  inboxQuery(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>
}

/** A received message as a broker entry point would make it, carrying `payload` as JSON. */
export function received(
  id: string,
  payload: unknown,
  headers: Record<string, string> = {},
): ReceivedMessage {
  return {
    id,
    destination: 'transfers',
    key: null,
    headers,
    body: Buffer.from(JSON.stringify(payload), 'utf8'),
    contentType: 'application/json',
  }
}

/** The bank, or undefined (the test skipped, loudly) when this machine has no MariaDB. */
export async function openBank(
  servers: FileServers,
  t: TestContext,
  side: InboxSide,
  options: { prefix?: string } = {},
): Promise<Bank | undefined> {
  const mariadb = servers.mariadb
  if (mariadb === undefined) {
    if (process.env.CI === 'true') throw new Error('CI=true: the inbox tests need MariaDB')
    t.skip('SKIPPED LOUDLY: no MariaDB on this machine')
    return undefined
  }
  const { fixture } = servers
  const savingsUrl = await servers.postgres.createDatabase()
  const paymentsUrl = await mariadb.createDatabase()
  const savings = { ...fixture.pg(savingsUrl, 'savings'), url: savingsUrl }
  const payments = { ...(await fixture.mysql(paymentsUrl, 'payments')), url: paymentsUrl }
  await savings.pool.query('CREATE TABLE accounts (id text PRIMARY KEY, balance integer NOT NULL)')
  await savings.pool.query("INSERT INTO accounts VALUES ('alice', 100)")
  await payments.pool.query(
    'CREATE TABLE accounts (id VARCHAR(50) PRIMARY KEY, balance INT NOT NULL) ENGINE=InnoDB',
  )
  await payments.pool.query("INSERT INTO accounts VALUES ('bob', 0)")
  const manager = await fixture.manager({
    decisionLog: savings.db,
    ...(options.prefix !== undefined && { prefix: options.prefix }),
  })
  const inboxDb = side === 'PostgreSQL' ? savings.db : payments.db
  await createInboxTable(inboxDb)
  const transfer: InboxWork<Transfer> = async ({ amount }, tx) => {
    const from = await tx.join('savings', savings.db)
    await from.query("UPDATE accounts SET balance = balance - $1 WHERE id = 'alice'", [amount])
    const to = await tx.join('payments', payments.db)
    await to.query("UPDATE accounts SET balance = balance + ? WHERE id = 'bob'", [amount])
  }
  const inboxQuery = async (sql: string, params: unknown[] = []) => {
    if (side === 'MariaDB') {
      const [rows] = await payments.pool.query(sql, params)
      return rows as Record<string, unknown>[]
    }
    let index = 0
    const numbered = sql.replace(/\?/g, () => `$${++index}`)
    return (await savings.pool.query(numbered, params)).rows as Record<string, unknown>[]
  }
  return {
    savings,
    payments,
    manager,
    prefix: options.prefix ?? 'txkit',
    inboxDb,
    inbox: (consumer) => createInbox({ manager, database: inboxDb, consumer }),
    transfer,
    async balances() {
      const { rows } = await savings.pool.query<{ balance: number }>(
        "SELECT balance FROM accounts WHERE id = 'alice'",
      )
      const [found] = await payments.pool.query<mysql.RowDataPacket[]>(
        "SELECT balance FROM accounts WHERE id = 'bob'",
      )
      return [Number(rows[0]?.balance), Number(found[0]?.balance)]
    },
    async inboxRows() {
      const rows = await inboxQuery(
        'SELECT consumer, message_id FROM txkit_inbox ORDER BY consumer, message_id',
      )
      return rows.map((row) => `${String(row.consumer)}/${String(row.message_id)}`)
    },
    inboxQuery,
  }
}

/**
 * Sessions of the inbox database waiting for a row lock: the deliveries whose insert waits for
 * another delivery's uncommitted row.
 */
export async function lockWaiters(bank: Bank): Promise<number> {
  const sql =
    bank.inboxDb === bank.savings.db
      ? "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
      : // A delivery's insert still running: the holder's insert ended before its handler ran.
        "SELECT count(*) AS n FROM information_schema.PROCESSLIST WHERE DB = database() AND COMMAND = 'Query' AND INFO LIKE 'INSERT INTO `txkit_inbox`%'"
  const [row] = await bank.inboxQuery(sql)
  return Number(row?.n)
}

/** Waits until `count` deliveries wait for a lock in the inbox database (a protocol fact). */
export async function waitForLockWaiters(bank: Bank, count: number): Promise<void> {
  const deadline = Date.now() + 120_000
  while ((await lockWaiters(bank)) < count) {
    if (Date.now() > deadline) throw new Error(`fewer than ${count} deliveries wait for the lock`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Delivers `message` as a broker does: again after each unacknowledged delivery that failed
 * transiently (a delivery that waited longer than MariaDB's lock wait timeout for another
 * delivery's row, a deadlock victim), until one is acknowledged or fails for good.
 */
export async function deliverUntilAcked<Payload>(
  inbox: Inbox,
  message: ReceivedMessage,
  work: InboxWork<Payload>,
): Promise<InboxOutcome> {
  for (let delivery = 1; ; delivery++) {
    try {
      return await inbox.handle(message, work)
    } catch (error) {
      if (!isRetryableTransactionError(error) || delivery >= 20) throw error
    }
  }
}
