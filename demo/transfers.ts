/**
 * `npm run demo`: money transfers between accounts held in different databases, all-or-nothing.
 * Starts its own throwaway PostgreSQL (two databases), and MariaDB when `mariadbd` is installed.
 */
import mysql from 'mysql2/promise'
import pg from 'pg'
import { findMariadb, MariadbServer } from '../harness/mariadb-server.js'
import { PostgresServer } from '../harness/postgres-server.js'
import { runCli } from '../harness/run-cli.js'
import { runCrashCoordinator } from '../harness/run-crash-coordinator.js'
import { createCoordinator, type Database, isTransactionRolledBackError } from '../src/index.js'
import { mysqlDatabase } from '../src/mysql/mysql2.js'
import { pgDatabase } from '../src/postgres/node-postgres.js'

const ACCOUNTS_PER_BANK = 4
const OPENING_BALANCE = 1000
const TRANSFERS = 300
const CONCURRENCY = 8

interface Bank {
  readonly name: string
  readonly kind: 'postgres' | 'mariadb'
  readonly url: string
  readonly db: Database
  readonly placeholder: (n: number) => string
  readonly balances: () => Promise<number[]>
  readonly prepared: () => Promise<number>
  readonly close: () => Promise<void>
}

class InsufficientFunds extends Error {}
class FraudCheckFailed extends Error {}

function say(line = ''): void {
  process.stdout.write(`${line}\n`)
}

async function pgBank(server: PostgresServer, name: string): Promise<Bank> {
  const admin = new pg.Client({ connectionString: server.url() })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const pool = new pg.Pool({ connectionString: server.url(name), max: CONCURRENCY + 2 })
  pool.on('error', () => {}) // idle clients are cut when the demo stops its server
  await pool.query(
    'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL CHECK (balance >= 0))',
  )
  for (let id = 1; id <= ACCOUNTS_PER_BANK; id++) {
    await pool.query('INSERT INTO accounts VALUES ($1, $2)', [id, OPENING_BALANCE])
  }
  return {
    name,
    kind: 'postgres',
    url: server.url(name),
    db: pgDatabase(pool, { name }),
    placeholder: (n) => `$${n}`,
    async balances() {
      const { rows } = await pool.query<{ balance: number }>(
        'SELECT balance FROM accounts ORDER BY id',
      )
      return rows.map((row) => row.balance)
    },
    async prepared() {
      const { rows } = await pool.query(
        'SELECT gid FROM pg_prepared_xacts WHERE database = current_database()',
      )
      return rows.length
    },
    close: () => pool.end(),
  }
}

async function mariaBank(server: MariadbServer, name: string): Promise<Bank> {
  const admin = await mysql.createConnection(server.url())
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const pool = mysql.createPool({ uri: server.url(name), connectionLimit: CONCURRENCY + 2 })
  await pool.query('CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB')
  for (let id = 1; id <= ACCOUNTS_PER_BANK; id++) {
    await pool.query('INSERT INTO accounts VALUES (?, ?)', [id, OPENING_BALANCE])
  }
  return {
    name,
    kind: 'mariadb',
    url: server.url(name),
    db: mysqlDatabase(pool, { name }),
    placeholder: () => '?',
    async balances() {
      const [rows] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT balance FROM accounts ORDER BY id',
      )
      return rows.map((row) => Number(row.balance))
    },
    async prepared() {
      const [rows] = await pool.query<mysql.RowDataPacket[]>('XA RECOVER')
      return rows.length
    },
    close: () => pool.end(),
  }
}

async function printBalances(banks: readonly Bank[]): Promise<number> {
  let total = 0
  for (const bank of banks) {
    const balances = await bank.balances()
    const sum = balances.reduce((a, b) => a + b, 0)
    total += sum
    say(
      `  ${bank.name.padEnd(10)} ${balances.map((b) => String(b).padStart(6)).join(' ')}   = ${String(sum).padStart(6)}`,
    )
  }
  say(
    `  ${'total'.padEnd(10)} ${' '.repeat(7 * ACCOUNTS_PER_BANK)}  = ${String(total).padStart(6)}`,
  )
  return total
}

/**
 * A coordinator process is killed (SIGKILL) right after its commit decision: one bank is debited,
 * the other still holds a prepared credit. `txkit status` shows it; `txkit recover` finishes it.
 */
async function crashScene(banks: readonly Bank[], expectedTotal: number): Promise<void> {
  const [from, to] = banks
  if (from === undefined || to === undefined) return
  say('\n── A crash ──────────────────────────────────────────────────────────────────────')
  say(
    `A coordinator process moves 100 from ${from.name}#1 to ${to.name}#1 and is killed with SIGKILL`,
  )
  say('right after its commit decision, before it could commit the prepared branch.')
  say('  (coordinator: the process running a transaction over several databases;')
  say("   decision: the 'C' row it writes in the decision log — from then on the transaction is")
  say("   committed, whatever happens; prepared branch: one database's part, PREPARE TRANSACTION")
  say('   done — the database keeps it, locks and all, even across a crash, until told to commit.)')
  const run = await runCrashCoordinator({
    databases: [from, to].map((bank) => ({ name: bank.name, kind: bank.kind, url: bank.url })),
    decisionLog: from.name,
    protocol: 'decision',
    prefix: 'demo',
    marker: 'crash',
    statements: {
      [from.name]: [{ sql: `UPDATE accounts SET balance = balance - 100 WHERE id = 1` }],
      [to.name]: [{ sql: `UPDATE accounts SET balance = balance + 100 WHERE id = 1` }],
    },
    killAt: { step: 'decision', when: 'after' },
  })
  say(`  coordinator exited with ${run.signal ?? run.code}`)
  const dbArgs = banks.flatMap((bank) => ['--db', `${bank.name}=${bank.url}`])
  const cliArgs = [...dbArgs, '--decision-log', from.name, '--prefix', 'demo', '--min-age', '0']
  say('\n$ txkit status --db … --decision-log bank_eu --prefix demo')
  const status = await runCli(['status', ...cliArgs])
  say(indent(status.stdout))
  say('  (GTRID: the transaction id, ending with the decision database; DATABASES: where a branch')
  say("   is still prepared; DECISION: what the decision log says — commit for a 'C' row;")
  say('   RECOVER WOULD: what txkit recover does now, or why it would leave it for later.)')
  const inDoubt = (await Promise.all(banks.map((bank) => bank.balances())))
    .flat()
    .reduce((a, b) => a + b, 0)
  say(`Total money right now: ${inDoubt} (${inDoubt - expectedTotal} while the credit is in doubt)`)
  say('\n$ txkit recover --db … --decision-log bank_eu --prefix demo')
  const recovered = await runCli(['recover', ...cliArgs])
  say(indent(recovered.stdout))
  say(`  exit code ${recovered.code}`)
  say('\nBalances after recovery:')
  const total = await printBalances(banks)
  const prepared = (await Promise.all(banks.map((bank) => bank.prepared()))).reduce(
    (a, b) => a + b,
    0,
  )
  say(
    `\nMoney conserved after the crash: ${total === expectedTotal ? 'yes' : 'NO'}; prepared transactions left: ${prepared}`,
  )
  if (total !== expectedTotal || prepared !== 0 || recovered.code !== 0) process.exitCode = 1
}

function indent(text: string): string {
  return text
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n')
}

async function main(): Promise<void> {
  const started = Date.now()
  say('txkit demo: transfers between accounts in different databases, all-or-nothing\n')
  say('Starting throwaway servers…')
  const postgres = await PostgresServer.start()
  say(`  PostgreSQL on 127.0.0.1:${postgres.port} (max_prepared_transactions = 100)`)
  let mariadb: MariadbServer | undefined
  if (findMariadb()) {
    mariadb = await MariadbServer.start()
    say(`  MariaDB    on 127.0.0.1:${mariadb.port}`)
  } else {
    say(
      '  MariaDB    not installed (apt-get install mariadb-server): the demo uses PostgreSQL only',
    )
  }
  const banks = [await pgBank(postgres, 'bank_eu'), await pgBank(postgres, 'bank_us')]
  if (mariadb) banks.push(await mariaBank(mariadb, 'bank_asia'))

  const [decisionBank] = banks
  if (decisionBank === undefined) throw new Error('no bank')
  const coordinator = createCoordinator({ prefix: 'demo', decisionLog: decisionBank.db })
  await coordinator.createDecisionLog()

  say(
    `\n${banks.length} banks, ${ACCOUNTS_PER_BANK} accounts each, ${OPENING_BALANCE} in every account:`,
  )
  const totalBefore = await printBalances(banks)

  say(`\nRunning ${TRANSFERS} transfers between banks, ${CONCURRENCY} at a time.`)
  say('Each one debits an account in one database and credits an account in another.')
  say(
    'Some are refused (insufficient funds), some fail a "fraud check" after the debit was written:',
  )
  say('those must leave no trace anywhere.\n')
  let committed = 0
  let insufficient = 0
  let fraud = 0
  let failed = 0
  let next = 0
  const random = (n: number) => Math.floor(Math.random() * n)
  const worker = async () => {
    while (next < TRANSFERS) {
      const number = next++
      const from = banks[random(banks.length)] as Bank
      let to = banks[random(banks.length)] as Bank
      while (to === from) to = banks[random(banks.length)] as Bank
      const fromId = 1 + random(ACCOUNTS_PER_BANK)
      const toId = 1 + random(ACCOUNTS_PER_BANK)
      const amount = 10 + random(400)
      try {
        await coordinator.transaction({ from: from.db, to: to.db }, async (branches) => {
          // Neither database can see a deadlock that spans both: take the two row locks in one
          // global order (bank name, then account) so that no two transfers wait on each other.
          const lock = (bank: Bank, branch: typeof branches.from, id: number) =>
            branch.query<{ balance: number }>(
              `SELECT balance FROM accounts WHERE id = ${bank.placeholder(1)} FOR UPDATE`,
              [id],
            )
          if (to.name < from.name) await lock(to, branches.to, toId)
          const [source] = await lock(from, branches.from, fromId)
          if (from.name < to.name) await lock(to, branches.to, toId)
          if (Number(source?.balance) < amount) throw new InsufficientFunds()
          await branches.from.query(
            `UPDATE accounts SET balance = balance - ${from.placeholder(1)} WHERE id = ${from.placeholder(2)}`,
            [amount, fromId],
          )
          if (number % 13 === 0) throw new FraudCheckFailed()
          await branches.to.query(
            `UPDATE accounts SET balance = balance + ${to.placeholder(1)} WHERE id = ${to.placeholder(2)}`,
            [amount, toId],
          )
        })
        committed++
      } catch (error) {
        if (error instanceof InsufficientFunds) insufficient++
        else if (error instanceof FraudCheckFailed) fraud++
        else if (isTransactionRolledBackError(error)) failed++
        else throw error
      }
    }
  }
  const runStart = Date.now()
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  const seconds = (Date.now() - runStart) / 1000
  say(`  committed:               ${committed}`)
  say(`  refused, funds too low:  ${insufficient}`)
  say(`  rolled back after debit: ${fraud}`)
  if (failed > 0) say(`  rolled back by txkit:    ${failed}`)
  say(`  ${(TRANSFERS / seconds).toFixed(0)} transfers/s`)

  say('\nBalances after:')
  const totalAfter = await printBalances(banks)
  const prepared = (await Promise.all(banks.map((bank) => bank.prepared()))).reduce(
    (a, b) => a + b,
    0,
  )
  say(
    `\nMoney conserved: ${totalBefore === totalAfter ? 'yes' : 'NO'} (${totalBefore} before, ${totalAfter} after)`,
  )
  say(`Prepared transactions left behind: ${prepared}`)

  await coordinator.close()
  await crashScene(banks, totalBefore)

  for (const bank of banks) await bank.close()
  await postgres.stop()
  await mariadb?.stop()
  say(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s.`)
  if (totalBefore !== totalAfter || prepared !== 0) process.exitCode = 1
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
