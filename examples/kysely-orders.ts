import { Kysely, MysqlDialect, PostgresDialect } from 'kysely'
import { createPool } from 'mysql2'
import pg from 'pg'
import { createTransactionManager } from 'txkit'
import { txkitDialect, txkitRecords } from 'txkit/kysely'
import { mysqlDatabase } from 'txkit/mysql2'
import { pgDatabase } from 'txkit/node-postgres'

interface Orders {
  orders: { id: string; customer: string; total: number }
}
interface Ledger {
  entries: { id: number | null; order_id: string; amount: number }
}

// Your pools, as Kysely's docs set them up, each also wrapped as a txkit database.
const ordersPool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
const ledgerPool = createPool(process.env.LEDGER_URL ?? '')
const orders = pgDatabase(ordersPool, { name: 'orders' })
const ledger = mysqlDatabase(ledgerPool, { name: 'ledger' })
const manager = createTransactionManager({ prefix: 'shop', decisionLog: orders })

// One application-wide Kysely per database: inside manager.run it writes in the transaction.
const ordersDb = new Kysely<Orders>({
  dialect: txkitDialect({
    dialect: new PostgresDialect({ pool: ordersPool }),
    database: orders,
    manager,
  }),
  plugins: [txkitRecords(manager)],
})
const ledgerDb = new Kysely<Ledger>({
  dialect: txkitDialect({
    dialect: new MysqlDialect({ pool: ledgerPool }),
    database: ledger,
    manager,
  }),
})

// This example's own tables (outside any transaction: Kysely uses its pool as usual).
await ordersDb.schema
  .createTable('orders')
  .ifNotExists()
  .addColumn('id', 'text', (c) => c.primaryKey())
  .addColumn('customer', 'text', (c) => c.notNull())
  .addColumn('total', 'integer', (c) => c.notNull())
  .execute()
await ledgerDb.schema
  .createTable('entries')
  .ifNotExists()
  .addColumn('id', 'integer', (c) => c.autoIncrement().primaryKey())
  .addColumn('order_id', 'varchar(64)', (c) => c.notNull())
  .addColumn('amount', 'integer', (c) => c.notNull())
  .execute()
await manager.coordinator.createDecisionLog() // once; idempotent

// Fed by txkitRecords from Kysely's writes, after the commit only.
manager.onRecord('orders', { afterInsert: (order) => console.log('indexed', order) })

/** The order and its charge commit in both databases or in neither. */
async function placeOrder(id: string, customer: string, total: number) {
  await manager.run(async (tx) => {
    await ordersDb.insertInto('orders').values({ id, customer, total }).execute()
    await ledgerDb
      .insertInto('entries')
      .values({ id: null, order_id: id, amount: -total })
      .execute()
    tx.afterCommit((outcome) => console.log(`order ${id}: ${outcome}`))
  })
}

await placeOrder('o-1', 'ada', 30)
// A failure anywhere in the callback leaves neither row.
await manager
  .run(async () => {
    await ordersDb.insertInto('orders').values({ id: 'o-2', customer: 'bob', total: 99 }).execute()
    throw new Error('payment declined')
  })
  .catch((error: Error) => console.log(`order o-2: ${error.message}, rolled back`))
console.log(await ordersDb.selectFrom('orders').select(['id', 'total']).orderBy('id').execute())

await manager.close()
await ordersDb.destroy() // ends ordersPool
await ledgerDb.destroy() // ends ledgerPool
