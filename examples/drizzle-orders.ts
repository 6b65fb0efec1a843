import { sql } from 'drizzle-orm'
import { int, mysqlTable, varchar } from 'drizzle-orm/mysql-core'
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, text } from 'drizzle-orm/pg-core'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { createTransactionManager } from 'txkit'
import { recordWrites, txkitDrizzleClient } from 'txkit/drizzle'
import { mysqlDatabase } from 'txkit/mysql2'
import { pgDatabase } from 'txkit/node-postgres'

const orders = pgTable('orders', {
  id: text('id').primaryKey(),
  customer: text('customer').notNull(),
  total: integer('total').notNull(),
})
const entries = mysqlTable('entries', {
  id: int('id').autoincrement().primaryKey(),
  orderId: varchar('order_id', { length: 64 }).notNull(),
  amount: int('amount').notNull(),
})

// Your pools, each also wrapped as a txkit database.
const ordersPool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
const ledgerPool = mysql.createPool(process.env.LEDGER_URL ?? '')
const ordersTx = pgDatabase(ordersPool, { name: 'orders' })
const ledgerTx = mysqlDatabase(ledgerPool, { name: 'ledger' })
const manager = createTransactionManager({ prefix: 'shop', decisionLog: ordersTx })

// One application-wide Drizzle db per database: inside manager.run it writes in the transaction.
const ordersDb = drizzle({
  client: txkitDrizzleClient({ pool: ordersPool, database: ordersTx, manager }),
})
const ledgerDb = drizzleMysql({
  client: txkitDrizzleClient({ pool: ledgerPool, database: ledgerTx, manager }),
})

// This example's own tables (outside any transaction: Drizzle uses its pool as usual).
await ordersDb.execute(
  sql`CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, customer text NOT NULL, total int NOT NULL)`,
)
await ledgerDb.execute(
  sql`CREATE TABLE IF NOT EXISTS entries (id int AUTO_INCREMENT PRIMARY KEY, order_id varchar(64) NOT NULL, amount int NOT NULL)`,
)
await manager.coordinator.createDecisionLog() // once; idempotent

// Drizzle has no write events: recordWrites feeds these hooks from .returning() rows.
manager.onRecord('orders', { afterInsert: (order) => console.log('indexed', order) })

/** The order and its charge commit in both databases or in neither. */
async function placeOrder(id: string, customer: string, total: number) {
  await manager.run(async (tx) => {
    await recordWrites(
      manager,
      'insert',
      'orders',
      ordersDb.insert(orders).values({ id, customer, total }).returning(),
    )
    await ledgerDb.insert(entries).values({ orderId: id, amount: -total })
    tx.afterCommit((outcome) => console.log(`order ${id}: ${outcome}`))
  })
}

await placeOrder('o-1', 'ada', 30)
// A failure anywhere in the callback leaves neither row.
await manager
  .run(async () => {
    await ordersDb.insert(orders).values({ id: 'o-2', customer: 'bob', total: 99 })
    throw new Error('payment declined')
  })
  .catch((error: Error) => console.log(`order o-2: ${error.message}, rolled back`))
console.log(await ordersDb.select({ id: orders.id, total: orders.total }).from(orders))

await manager.close()
await ordersPool.end()
await ledgerPool.end()
