import mysql from 'mysql2/promise'
import pg from 'pg'
import { createTransactionManager } from 'txkit'
import { mysqlDatabase } from 'txkit/mysql2'
import { pgDatabase } from 'txkit/node-postgres'
import { txkitTypeorm } from 'txkit/typeorm'
import { DataSource, EntitySchema } from 'typeorm'

interface Order {
  id: string
  customer: string
  total: number
}
interface Entry {
  id?: number
  orderId: string
  amount: number
}
const OrderSchema = new EntitySchema<Order>({
  name: 'Order',
  tableName: 'orders',
  columns: {
    id: { type: String, primary: true },
    customer: { type: String },
    total: { type: Number },
  },
})
const EntrySchema = new EntitySchema<Entry>({
  name: 'Entry',
  tableName: 'entries',
  columns: {
    id: { type: Number, primary: true, generated: true },
    orderId: { type: String, name: 'order_id', length: 64 },
    amount: { type: Number },
  },
})

// The txkit databases (their pools run the transactions' branches) ...
const ordersPool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
const ledgerPool = mysql.createPool(process.env.LEDGER_URL ?? '')
const orders = pgDatabase(ordersPool, { name: 'orders' })
const ledger = mysqlDatabase(ledgerPool, { name: 'ledger' })
const manager = createTransactionManager({ prefix: 'shop', decisionLog: orders })

// ... and one application-wide DataSource per database, initialised as TypeORM's docs show.
// (synchronize creates this example's tables.)
const ordersSource = txkitTypeorm(
  await new DataSource({
    type: 'postgres',
    url: process.env.ORDERS_URL ?? '',
    entities: [OrderSchema],
    synchronize: true,
  }).initialize(),
  { database: orders, manager },
)
const ledgerSource = txkitTypeorm(
  await new DataSource({
    type: 'mariadb',
    url: process.env.LEDGER_URL ?? '',
    entities: [EntrySchema],
    synchronize: true,
  }).initialize(),
  { database: ledger, manager },
)
await manager.coordinator.createDecisionLog() // once; idempotent

// Fed from TypeORM's insert events, after the commit only.
manager.onRecord('orders', { afterInsert: (order) => console.log('indexed', order) })

/** The order and its charge commit in both databases or in neither. */
async function placeOrder(id: string, customer: string, total: number) {
  await manager.run(async (tx) => {
    await ordersSource.manager.save(OrderSchema, { id, customer, total })
    await ledgerSource.manager.save(EntrySchema, { orderId: id, amount: -total })
    tx.afterCommit((outcome) => console.log(`order ${id}: ${outcome}`))
  })
}

await placeOrder('o-1', 'ada', 30)
// A failure anywhere in the callback leaves neither row.
await manager
  .run(async () => {
    await ordersSource.manager.save(OrderSchema, { id: 'o-2', customer: 'bob', total: 99 })
    throw new Error('payment declined')
  })
  .catch((error: Error) => console.log(`order o-2: ${error.message}, rolled back`))
console.log(
  await ordersSource.getRepository(OrderSchema).find({ select: { id: true, total: true } }),
)

await manager.close()
await ordersSource.destroy()
await ledgerSource.destroy()
await ordersPool.end()
await ledgerPool.end()
