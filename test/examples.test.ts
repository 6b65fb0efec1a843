import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import type mysql from 'mysql2/promise'
import { brokerSkip, createVhost } from '../harness/brokers.js'
import { serversForFile } from '../harness/file-servers.js'
import { fencedBlocks } from '../harness/markdown-docs.js'

const servers = serversForFile()
const repository = fileURLToPath(new URL('../..', import.meta.url))

/** The body of the first ```ts block under `heading` in `file` (the README or a page of docs/). */
function docBlock(file: string, heading: string): string {
  const text = readFileSync(`${repository}${file}`, 'utf8')
  const lines = text.split('\n')
  const at = lines.indexOf(heading)
  assert.ok(at >= 0, `no ${heading} in ${file}`)
  const block = fencedBlocks(text).find((found) => found.language === 'ts' && found.line > at + 1)
  assert.ok(block !== undefined, `no ts block under ${heading} in ${file}`)
  return block.body
}

describe('the README quick start, as pasted', () => {
  test('is examples/quick-start.ts, which runs against PostgreSQL and MariaDB and exits', async (t) => {
    const example = readFileSync(`${repository}examples/quick-start.ts`, 'utf8')
    assert.equal(
      docBlock('README.md', '## Quick start'),
      example,
      'the README block is the example file',
    )
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB')
    const accountsUrl = await servers.postgres.createDatabase()
    const ledgerUrl = await mariadb.createDatabase()
    const run = spawnSync(process.execPath, ['build/examples/quick-start.js'], {
      cwd: repository,
      env: { ...process.env, ACCOUNTS_URL: accountsUrl, LEDGER_URL: ledgerUrl },
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(run.status, 0, `exit ${run.status} ${run.signal ?? ''}: ${run.stderr}`)
    assert.match(run.stdout, /committed in both databases/)
    const accounts = servers.fixture.pg(accountsUrl, 'accounts')
    const ledger = await servers.fixture.mysql(ledgerUrl, 'ledger')
    assert.deepEqual((await accounts.pool.query('SELECT balance FROM accounts')).rows, [
      { balance: 90 },
    ])
    const [entries] = await ledger.pool.query<mysql.RowDataPacket[]>(
      'SELECT account_id, amount FROM entries',
    )
    assert.deepEqual(
      entries.map((row) => [row.account_id, row.amount]),
      [[1, -10]],
    )
    assert.deepEqual((await accounts.pool.query('SELECT gid FROM pg_prepared_xacts')).rows, [])
  })
})

describe('the docs example with postgres.js and the mariadb connector, as pasted', () => {
  test('is examples/postgres-js-mariadb.ts, which runs and commits in both databases', async (t) => {
    const example = readFileSync(`${repository}examples/postgres-js-mariadb.ts`, 'utf8')
    assert.equal(
      docBlock(
        'docs/databases.md',
        '## The Quick start with postgres.js and the mariadb connector',
      ),
      example,
      'the docs block is the example file',
    )
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB')
    const accountsUrl = await servers.postgres.createDatabase()
    const ledgerUrl = await mariadb.createDatabase()
    const run = spawnSync(process.execPath, ['build/examples/postgres-js-mariadb.js'], {
      cwd: repository,
      env: { ...process.env, ACCOUNTS_URL: accountsUrl, LEDGER_URL: ledgerUrl },
      encoding: 'utf8',
      timeout: 60_000,
    })
    assert.equal(run.status, 0, `exit ${run.status} ${run.signal ?? ''}: ${run.stderr}`)
    assert.match(run.stdout, /committed in both databases/)
    const accounts = servers.fixture.pg(accountsUrl, 'accounts')
    const ledger = await servers.fixture.mysql(ledgerUrl, 'ledger')
    assert.deepEqual((await accounts.pool.query('SELECT balance FROM accounts')).rows, [
      { balance: 90 },
    ])
    const [entries] = await ledger.pool.query<mysql.RowDataPacket[]>(
      'SELECT account_id, amount FROM entries',
    )
    assert.deepEqual(
      entries.map((row) => [row.account_id, row.amount]),
      [[1, -10]],
    )
    assert.deepEqual((await accounts.pool.query('SELECT gid FROM pg_prepared_xacts')).rows, [])
  })
})

/** The order service of each integration's page of docs/, each kept as a program in examples/. */
const ORDER_SERVICES = [
  ['Kysely', 'kysely', 'kysely-orders'],
  ['Drizzle', 'drizzle', 'drizzle-orders'],
  ['Knex', 'knex', 'knex-orders'],
  ['TypeORM', 'typeorm', 'typeorm-orders'],
  ['Prisma', 'prisma', 'prisma-orders'],
] as const

for (const [tool, page, program] of ORDER_SERVICES) {
  describe(`the docs ${tool} order service, as pasted`, () => {
    test(`is examples/${program}.ts: one order commits in both databases, the failed one in neither`, async (t) => {
      const example = readFileSync(`${repository}examples/${program}.ts`, 'utf8')
      assert.equal(
        docBlock(`docs/${page}.md`, `# ${tool}`),
        example,
        'the docs block is the example file',
      )
      const mariadb = servers.mariadb
      if (mariadb === undefined) return t.skip('no MariaDB')
      const ordersUrl = await servers.postgres.createDatabase()
      const ledgerUrl = await mariadb.createDatabase()
      const run = spawnSync(process.execPath, [`build/examples/${program}.js`], {
        cwd: repository,
        env: { ...process.env, ORDERS_URL: ordersUrl, LEDGER_URL: ledgerUrl },
        encoding: 'utf8',
        timeout: 60_000,
      })
      assert.equal(run.status, 0, `exit ${run.status} ${run.signal ?? ''}: ${run.stderr}`)
      assert.match(run.stdout, /indexed \{ id: 'o-1', customer: 'ada', total: 30 \}/)
      assert.match(run.stdout, /order o-1: committed/)
      assert.match(run.stdout, /order o-2: payment declined, rolled back/)
      const orders = servers.fixture.pg(ordersUrl, 'orders')
      const ledger = await servers.fixture.mysql(ledgerUrl, 'ledger')
      assert.deepEqual((await orders.pool.query('SELECT id, total FROM orders')).rows, [
        { id: 'o-1', total: 30 },
      ])
      const [entries] = await ledger.pool.query<mysql.RowDataPacket[]>(
        'SELECT order_id, amount FROM entries',
      )
      assert.deepEqual(
        entries.map((row) => [row.order_id, row.amount]),
        [['o-1', -30]],
      )
      assert.deepEqual((await orders.pool.query('SELECT gid FROM pg_prepared_xacts')).rows, [])
    })
  })
}

describe('the docs outbox order service, as pasted', () => {
  test('is examples/outbox-orders.ts: the placed order’s event is applied once, the declined one’s never sent', async (t) => {
    const example = readFileSync(`${repository}examples/outbox-orders.ts`, 'utf8')
    assert.equal(
      docBlock('docs/outbox.md', '## A complete order service'),
      example,
      'the docs block is the example file',
    )
    const skipped = await brokerSkip('RabbitMQ', 5672)
    if (skipped !== undefined) return t.skip(skipped)
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB')
    const vhost = await createVhost()
    t.after(() => vhost.remove())
    const [ordersUrl, shippingUrl] = await Promise.all([
      servers.postgres.createDatabase(),
      servers.postgres.createDatabase(),
    ])
    const ledgerUrl = await mariadb.createDatabase()
    const run = spawnSync(process.execPath, ['build/examples/outbox-orders.js'], {
      cwd: repository,
      env: {
        ...process.env,
        ORDERS_URL: ordersUrl,
        LEDGER_URL: ledgerUrl,
        SHIPPING_URL: shippingUrl,
        AMQP_URL: vhost.url(),
      },
      encoding: 'utf8',
      timeout: 90_000,
    })
    assert.equal(run.status, 0, `exit ${run.status} ${run.signal ?? ''}: ${run.stderr}`)
    assert.match(run.stdout, /order o-1: committed/)
    assert.match(run.stdout, /order o-2: payment declined, rolled back: nothing sent/)
    assert.match(run.stdout, /shipping: o-1 shipped, once/)
    const shipping = servers.fixture.pg(shippingUrl ?? '', 'shipping')
    assert.deepEqual((await shipping.pool.query('SELECT order_id FROM shipments')).rows, [
      { order_id: 'o-1' },
    ])
    const orders = servers.fixture.pg(ordersUrl ?? '', 'orders')
    assert.deepEqual(
      (await orders.pool.query('SELECT state, message_key FROM txkit_outbox')).rows,
      [{ state: 'D', message_key: 'o-1' }],
    )
  })
})
