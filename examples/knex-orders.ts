import knex from 'knex'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { createTransactionManager } from 'txkit'
import { txkitKnex } from 'txkit/knex'
import { mysqlDatabase } from 'txkit/mysql2'
import { pgDatabase } from 'txkit/node-postgres'

// The txkit databases (their pools run the transactions' branches) ...
const orders = pgDatabase(new pg.Pool({ connectionString: process.env.ORDERS_URL }), {
  name: 'orders',
})
const ledgerPool = mysql.createPool(process.env.LEDGER_URL ?? '')
const ledger = mysqlDatabase(ledgerPool, { name: 'ledger' })
const manager = createTransactionManager({ prefix: 'shop', decisionLog: orders })

// ... and one application-wide Knex per database, as Knex's docs set it up.
const ordersDb = txkitKnex(knex({ client: 'pg', connection: process.env.ORDERS_URL ?? '' }), {
  database: orders,
  manager,
})
const ledgerDb = txkitKnex(knex({ client: 'mysql2', connection: process.env.LEDGER_URL ?? '' }), {
  database: ledger,
  manager,
})

// This example's own tables (outside any transaction: Knex uses its pool as usual).
if (!(await ordersDb.schema.hasTable('orders'))) {
  await ordersDb.schema.createTable('orders', (table) => {
    table.text('id').primary()
    table.text('customer').notNullable()
    table.integer('total').notNullable()
  })
}
if (!(await ledgerDb.schema.hasTable('entries'))) {
  await ledgerDb.schema.createTable('entries', (table) => {
    table.increments('id')
    table.string('order_id', 64).notNullable()
    table.integer('amount').notNullable()
  })
}
await manager.coordinator.createDecisionLog() // once; idempotent

// Fed from Knex's query events, for writes that return rows.
manager.onRecord('orders', { afterInsert: (order) => console.log('indexed', order) })

/** The order and its charge commit in both databases or in neither. */
async function placeOrder(id: string, customer: string, total: number) {
  await manager.run(async (tx) => {
    await ordersDb('orders').insert({ id, customer, total }).returning('*')
    await ledgerDb('entries').insert({ order_id: id, amount: -total })
    tx.afterCommit((outcome) => console.log(`order ${id}: ${outcome}`))
  })
}

await placeOrder('o-1', 'ada', 30)
// A failure anywhere in the callback leaves neither row.
await manager
  .run(async () => {
    await ordersDb('orders').insert({ id: 'o-2', customer: 'bob', total: 99 })
    throw new Error('payment declined')
  })
  .catch((error: Error) => console.log(`order o-2: ${error.message}, rolled back`))
console.log(await ordersDb('orders').select('id', 'total').orderBy('id'))

await manager.close()
await ordersDb.destroy()
await ledgerDb.destroy()
await ledgerPool.end()
