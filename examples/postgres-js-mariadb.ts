import mariadb from 'mariadb'
import postgres from 'postgres'
import { createCoordinator } from 'txkit'
import { mariadbDatabase } from 'txkit/mariadb'
import { postgresJsDatabase } from 'txkit/postgres-js'

// The Quick start's transfer with postgres.js and the mariadb connector, from the same variables.
const sql = postgres(process.env.ACCOUNTS_URL ?? '', { max: 10, onnotice: () => {} })
// The connector takes mariadb:// URLs; the Quick start's LEDGER_URL may say mysql://.
const pool = mariadb.createPool((process.env.LEDGER_URL ?? '').replace(/^mysql:/, 'mariadb:'))

// This example's own tables.
await sql`CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance int NOT NULL)`
await sql`INSERT INTO accounts VALUES (1, 100) ON CONFLICT (id) DO NOTHING`
await pool.query(
  'CREATE TABLE IF NOT EXISTS entries (id int AUTO_INCREMENT PRIMARY KEY, account_id int NOT NULL, amount int NOT NULL)',
)

// mariadbDatabase asks the server who it is (the pool keeps its settings private): hence await.
const accounts = postgresJsDatabase(sql, { name: 'accounts' })
const ledger = await mariadbDatabase(pool, { name: 'ledger' })

const coordinator = createCoordinator({ prefix: 'billing', decisionLog: accounts })
await coordinator.createDecisionLog() // once; idempotent

// Each branch's connection is the driver's own: postgres.js's reserved `sql`, a connector connection.
await coordinator.transaction({ accounts, ledger }, async ({ accounts, ledger }) => {
  await accounts.connection`UPDATE accounts SET balance = balance - ${10} WHERE id = ${1}`
  await ledger.connection.query('INSERT INTO entries (account_id, amount) VALUES (?, ?)', [1, -10])
})
console.log('Moved 10 from account 1 into the ledger: committed in both databases.')

await coordinator.close()
await sql.end()
await pool.end()
