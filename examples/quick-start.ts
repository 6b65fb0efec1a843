import mysql from 'mysql2/promise'
import pg from 'pg'
import { createCoordinator } from 'txkit'
import { mysqlDatabase } from 'txkit/mysql2'
import { pgDatabase } from 'txkit/node-postgres'

// PostgreSQL (with max_prepared_transactions > 0) and MySQL 8 or MariaDB, from the environment:
// ACCOUNTS_URL=postgres://app:secret@localhost:5432/bank LEDGER_URL=mysql://app:secret@localhost/books
const accountsPool = new pg.Pool({ connectionString: process.env.ACCOUNTS_URL })
const ledgerPool = mysql.createPool(process.env.LEDGER_URL ?? '')

// This example's own tables.
await accountsPool.query(
  'CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance int NOT NULL)',
)
await accountsPool.query('INSERT INTO accounts VALUES (1, 100) ON CONFLICT (id) DO NOTHING')
await ledgerPool.query(
  'CREATE TABLE IF NOT EXISTS entries (id int AUTO_INCREMENT PRIMARY KEY, account_id int NOT NULL, amount int NOT NULL)',
)

// Wrap the pools you already have. The name is stable: transaction ids and decisions carry it.
const accounts = pgDatabase(accountsPool, { name: 'accounts' })
const ledger = mysqlDatabase(ledgerPool, { name: 'ledger' })

// One coordinator per deployment. It records each commit decision in a small table of one of
// your databases (the decision log), so that a crash can be finished later, all one way.
const coordinator = createCoordinator({ prefix: 'billing', decisionLog: accounts })
await coordinator.createDecisionLog() // once; idempotent

// Both databases or neither: a throw anywhere in the callback rolls back everywhere.
await coordinator.transaction({ accounts, ledger }, async ({ accounts, ledger }) => {
  await accounts.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [10, 1])
  await ledger.query('INSERT INTO entries (account_id, amount) VALUES (?, ?)', [1, -10])
})
console.log('Moved 10 from account 1 into the ledger: committed in both databases.')

// Close what was opened: the coordinator first (it deletes finished decision rows), then the pools.
await coordinator.close()
await accountsPool.end()
await ledgerPool.end()
