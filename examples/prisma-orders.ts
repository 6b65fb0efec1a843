import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import mariadb from 'mariadb'
import pg from 'pg'
import { createTransactionManager } from 'txkit'
import { mariadbDatabase } from 'txkit/mariadb'
import { pgDatabase } from 'txkit/node-postgres'
import { txkitPrismaExtension, txkitPrismaPool } from 'txkit/prisma'
import { PrismaClient as LedgerClient } from './prisma/generated/ledger/client.js'
import { PrismaClient as OrdersClient } from './prisma/generated/orders/client.js'

// Your pools, each also wrapped as a txkit database (PrismaMariaDb takes the mariadb connector).
const ordersPool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
const ledgerPool = mariadb.createPool((process.env.LEDGER_URL ?? '').replace(/^mysql:/, 'mariadb:'))
const ordersTx = pgDatabase(ordersPool, { name: 'orders' })
const ledgerTx = await mariadbDatabase(ledgerPool, { name: 'ledger' })
const manager = createTransactionManager({ prefix: 'shop', decisionLog: ordersTx })

// One application-wide client per database: inside manager.run it writes in the transaction.
const orders = new OrdersClient({
  adapter: new PrismaPg(txkitPrismaPool({ pool: ordersPool, database: ordersTx, manager })),
}).$extends(txkitPrismaExtension(manager))
const ledger = new LedgerClient({
  adapter: new PrismaMariaDb(
    // PrismaMariaDb pins its own mariadb release: its Pool type may differ from yours.
    txkitPrismaPool({ pool: ledgerPool, database: ledgerTx, manager }) as never,
  ),
}).$extends(txkitPrismaExtension(manager))

// This example's own tables (outside any transaction: Prisma uses its pool as usual).
await orders.$executeRaw`CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, customer text NOT NULL, total int NOT NULL)`
await ledger.$executeRaw`CREATE TABLE IF NOT EXISTS entries (id int AUTO_INCREMENT PRIMARY KEY, order_id varchar(64) NOT NULL, amount int NOT NULL)`
await manager.coordinator.createDecisionLog() // once; idempotent

// The extension feeds these hooks from Prisma's writes.
manager.onRecord('orders', { afterInsert: (order) => console.log('indexed', order) })

/** The order and its charge commit in both databases or in neither. */
async function placeOrder(id: string, customer: string, total: number) {
  await manager.run(async (tx) => {
    await orders.order.create({ data: { id, customer, total } })
    // Prisma's own transaction inside is a savepoint of the txkit transaction.
    await ledger.$transaction(async (inner) => {
      await inner.entry.create({ data: { orderId: id, amount: -total } })
    })
    tx.afterCommit((outcome) => console.log(`order ${id}: ${outcome}`))
  })
}

await placeOrder('o-1', 'ada', 30)
// A failure anywhere in the callback leaves neither row.
await manager
  .run(async () => {
    await orders.order.create({ data: { id: 'o-2', customer: 'bob', total: 99 } })
    throw new Error('payment declined')
  })
  .catch((error: Error) => console.log(`order o-2: ${error.message}, rolled back`))
console.log(await orders.order.findMany({ select: { id: true, total: true } }))

await manager.close()
await Promise.all([orders.$disconnect(), ledger.$disconnect()])
await Promise.all([ordersPool.end(), ledgerPool.end()])
