import amqp from 'amqplib'
import { createPool } from 'mysql2'
import pg from 'pg'
import {
  createInbox,
  createInboxTable,
  createOutboxTables,
  createRelay,
  createTransactionManager,
} from 'txkit'
import { amqpBroker, consumeAmqp } from 'txkit/amqplib'
import { mysqlDatabase } from 'txkit/mysql2'
import { pgDatabase } from 'txkit/node-postgres'

// The order service: orders in PostgreSQL, payments in MariaDB, events to RabbitMQ.
const ordersPool = new pg.Pool({ connectionString: process.env.ORDERS_URL })
const ledgerPool = createPool(process.env.LEDGER_URL ?? '')
const orders = pgDatabase(ordersPool, { name: 'orders' })
const ledger = mysqlDatabase(ledgerPool, { name: 'ledger' })
const manager = createTransactionManager({
  prefix: 'shop',
  decisionLog: orders,
  outbox: { destinations: { 'order-events': { broker: 'rabbitmq' } } },
})

// Once per deployment (or `txkit init --outbox`), and the application's own tables.
await manager.coordinator.createDecisionLog()
await createOutboxTables(orders)
await ordersPool.query('CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, total int)')
await ledgerPool
  .promise()
  .query('CREATE TABLE IF NOT EXISTS entries (order_id varchar(20), amount int)')

async function placeOrder(id: string, total: number, paid: boolean): Promise<void> {
  await manager.run(async (tx) => {
    const o = await tx.join('orders', orders)
    const l = await tx.join('ledger', ledger)
    await o.query('INSERT INTO orders (id, total) VALUES ($1, $2)', [id, total])
    await l.query('INSERT INTO entries (order_id, amount) VALUES (?, ?)', [id, -total])
    tx.outbox.send('order-events', { type: 'order-placed', id, total }, { key: id })
    if (!paid) throw new Error('payment declined')
  })
}

// RabbitMQ: an exchange for the events, a queue for the shipping service.
const connection = await amqp.connect(process.env.AMQP_URL ?? 'amqp://localhost')
const channel = await connection.createChannel()
await channel.assertExchange('order-events', 'topic', { durable: true })
await channel.assertQueue('shipping', { durable: true })
await channel.bindQueue('shipping', 'order-events', '#')

// The relay publishes committed messages (in production: `txkit relay`, a process of its own).
const relay = createRelay({
  databases: [orders],
  outbox: { destinations: { 'order-events': { broker: 'rabbitmq' } } },
  brokers: { rabbitmq: amqpBroker(connection) },
})
await relay.start()

// The shipping service: applies each event once, in its own database, through the inbox.
const shippingPool = new pg.Pool({ connectionString: process.env.SHIPPING_URL })
const shipping = pgDatabase(shippingPool, { name: 'shipping' })
const shippingManager = createTransactionManager({ prefix: 'ship', decisionLog: shipping })
await shippingManager.coordinator.createDecisionLog()
await createInboxTable(shipping)
await shippingPool.query('CREATE TABLE IF NOT EXISTS shipments (order_id text PRIMARY KEY)')
const inbox = createInbox({ manager: shippingManager, database: shipping, consumer: 'shipping' })
const shipped = new Set<string>()
const consumer = await consumeAmqp(connection, {
  queue: 'shipping',
  handle: inbox.handler(async (event: { id: string }, tx) => {
    const s = await tx.join('shipping', shipping)
    await s.query('INSERT INTO shipments (order_id) VALUES ($1)', [event.id])
    tx.afterCommit((outcome) => {
      if (outcome === 'committed') shipped.add(event.id)
    })
  }),
})

await placeOrder('o-1', 30, true)
console.log('order o-1: committed')
await placeOrder('o-2', 50, false).catch((error: Error) => {
  console.log(`order o-2: ${error.message}, rolled back: nothing sent`)
})
while (!shipped.has('o-1')) await new Promise((resolve) => setTimeout(resolve, 20))
console.log('shipping: o-1 shipped, once')

await consumer.stop()
await relay.stop()
await connection.close()
await Promise.all([manager.close(), shippingManager.close()])
await Promise.all([ordersPool.end(), ledgerPool.promise().end(), shippingPool.end()])
