/**
 * Prisma on txkit transactions (`txkit/prisma`): one application-wide PrismaClient per database,
 * its driver adapter (PrismaPg, PrismaMariaDb) given `txkitPrismaPool` in place of the pool, used
 * as Prisma's docs show. The clients are generated offline from test/prisma/*.prisma by
 * scripts/prisma-generate.mjs (run by `npm run build:dev`). PrismaPg needs node-postgres and
 * PrismaMariaDb the mariadb connector, so these tests open their own whatever the driver pass.
 * Asserts on rows in the databases.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PrismaMariaDb } from '@prisma/adapter-mariadb'
import { PrismaPg } from '@prisma/adapter-pg'
import mariadb, { type Pool as ConnectorPool, type PoolConfig } from 'mariadb'
import pg from 'pg'
import postgres from 'postgres'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared } from '../../harness/fixture.js'
import { assertSecondKept, overlappingSiblings } from '../../harness/siblings.js'
import { balances, entryIds, outboxBodies, TOOL_OUTBOX, toolBank } from '../../harness/tool-bank.js'
import {
  createOutboxTables,
  isConfigurationError,
  isTransactionControlRefusedError,
  isTransactionStateError,
  type TransactionManager,
  type TransactionManagerOptions,
} from '../../src/index.js'
import { mariadbDatabase } from '../../src/mysql/mariadb.js'
import { mysqlDatabase } from '../../src/mysql/mysql2.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'
import { postgresJsDatabase } from '../../src/postgres/postgres-js.js'
import { txkitPrismaExtension, txkitPrismaPool } from '../../src/prisma/prisma.js'
import { PrismaClient as MysqlClient } from './generated/bank-mysql/client.js'
import { PrismaClient } from './generated/bank-postgres/client.js'

const servers = serversForFile()
const { fixture } = servers

const bank = (name: string) =>
  toolBank(
    servers,
    name,
    'id text PRIMARY KEY, amount int NOT NULL, account_id int REFERENCES accounts',
  )

type Bank = Awaited<ReturnType<typeof bank>>

function prismaOn(bankOf: Bank, manager: TransactionManager, explicit = false) {
  const pool = txkitPrismaPool({
    pool: bankOf.pool,
    database: bankOf.database,
    manager,
    ...(explicit && { explicit }),
  })
  return new PrismaClient({ adapter: new PrismaPg(pool) }).$extends(txkitPrismaExtension(manager))
}

type Prisma = ReturnType<typeof prismaOn>

async function twoBanks(options: Partial<TransactionManagerOptions> = {}) {
  const a = await bank('a')
  const b = await bank('b')
  const manager = await fixture.manager({ decisionLog: a.database, ...options })
  const pa = prismaOn(a, manager)
  const pb = prismaOn(b, manager)
  return { a, b, manager, pa, pb, done: () => Promise.all([pa.$disconnect(), pb.$disconnect()]) }
}

async function transfer(from: Prisma, to: Prisma, amount: number, id: string) {
  await from.account.update({ where: { id: 1 }, data: { balance: { decrement: amount } } })
  await to.account.update({ where: { id: 2 }, data: { balance: { increment: amount } } })
  await from.entry.create({ data: { id, amount: -amount } })
}

describe('Prisma on txkit transactions (PostgreSQL + PostgreSQL)', () => {
  test('a transfer written through Prisma commits in both databases; a throw leaves nothing anywhere', async (t) => {
    const { a, b, manager, pa, pb, done } = await twoBanks()
    t.after(done)
    await manager.run(() => transfer(pa, pb, 10, 't1'))
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    const thrown = await manager
      .run(async () => {
        await transfer(pa, pb, 5, 't2')
        throw new Error('changed my mind')
      })
      .catch((error: unknown) => error)
    assert.equal((thrown as Error).message, 'changed my mind')
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    assert.deepEqual(await entryIds(a.pool), ['t1'])
    assert.deepEqual(await pgPrepared(a.pool), [])
    assert.deepEqual(await pgPrepared(b.pool), [])
  })

  test('$transaction inside is a savepoint: a failing one undoes only its work, nested ones and batches too', async (t) => {
    const { a, b, manager, pa, pb, done } = await twoBanks({ outbox: TOOL_OUTBOX })
    await createOutboxTables(a.db)
    t.after(done)
    await manager.run(async () => {
      await transfer(pa, pb, 10, 'outer')
      manager.outbox.send('events', 'outer')
      const inner = await pa
        .$transaction(async (tx) => {
          await tx.entry.create({ data: { id: 'inner-failed', amount: 1 } })
          manager.outbox.send('events', 'inner-failed')
          throw new Error('inner failure')
        })
        .catch((error: unknown) => error)
      assert.equal((inner as Error).message, 'inner failure')
      await pa.$transaction(async (tx) => {
        await tx.entry.create({ data: { id: 'inner-kept', amount: 2 } })
        manager.outbox.send('events', 'inner-kept')
        await tx
          .$transaction(async (nested) => {
            await nested.entry.create({ data: { id: 'nested-undone', amount: 3 } })
            manager.outbox.send('events', 'nested-undone')
            throw new Error('nested failure')
          })
          .catch(() => undefined)
      })
      await pa.$transaction([
        pa.entry.create({ data: { id: 'batch-1', amount: 4 } }),
        pa.entry.create({ data: { id: 'batch-2', amount: 5 } }),
      ])
      const batchFailed = await pa
        .$transaction([
          pa.entry.create({ data: { id: 'batch-undone', amount: 6 } }),
          pa.entry.create({ data: { id: 'outer', amount: 7 } }),
        ])
        .catch((error: unknown) => error)
      assert.ok(batchFailed instanceof Error, 'the duplicate key fails the batch')
    })
    assert.deepEqual(await entryIds(a.pool), ['batch-1', 'batch-2', 'inner-kept', 'outer'])
    assert.deepEqual(await balances(b.pool), [100, 10])
    assert.deepEqual(await outboxBodies(a.pool), ['outer', 'inner-kept'])
  })

  test("Prisma's implicit transaction (a nested write) stays in the branch: undone by a later throw", async (t) => {
    const { a, b, manager, pa, pb, done } = await twoBanks()
    t.after(done)
    const thrown = await manager
      .run(async () => {
        await pa.account.create({
          data: { id: 3, balance: 5, entries: { create: [{ id: 'n1', amount: 5 }] } },
        })
        await pb.account.update({ where: { id: 2 }, data: { balance: 1 } })
        throw new Error('after the nested write')
      })
      .catch((error: unknown) => error)
    assert.equal((thrown as Error).message, 'after the nested write')
    assert.deepEqual(await balances(a.pool), [100, 0])
    assert.deepEqual(await entryIds(a.pool), [])
    assert.deepEqual(await balances(b.pool), [100, 0])
    await manager.run(() =>
      pa.account.create({
        data: { id: 3, balance: 5, entries: { create: [{ id: 'n2', amount: 5 }] } },
      }),
    )
    assert.deepEqual(await balances(a.pool), [100, 0, 5])
    assert.deepEqual(await entryIds(a.pool), ['n2'])
  })

  test('an isolation level inside is refused; COMMIT sent through $executeRaw is refused; nothing is split', async (t) => {
    const { a, b, manager, pa, pb, done } = await twoBanks()
    t.after(done)
    const configured = await manager
      .run(async () => {
        await transfer(pa, pb, 10, 'configured')
        await pa.$transaction(async () => undefined, { isolationLevel: 'Serializable' })
      })
      .catch((error: unknown) => error)
    assert.ok(isConfigurationError(configured), String(configured))
    assert.match(configured.message, /isolation level/)
    const stray = await manager
      .run(async () => {
        await transfer(pa, pb, 10, 'stray')
        await pb.$executeRaw`COMMIT`
      })
      .catch((error: unknown) => error)
    // Prisma's copy of the error is its cause: the extension throws txkit's own.
    assert.ok(isTransactionControlRefusedError(stray), String(stray))
    assert.equal(stray.statement, 'COMMIT')
    assert.equal((stray.cause as { name?: string }).name, 'PrismaClientKnownRequestError')
    assert.deepEqual(await balances(a.pool), [100, 0])
    assert.deepEqual(await balances(b.pool), [100, 0])
    assert.deepEqual(await entryIds(a.pool), [])
  })

  test('outside any transaction Prisma uses the pool as usual, its own transactions included; explicit mode refuses', async (t) => {
    const { a, manager, pa, done } = await twoBanks()
    t.after(done)
    await pa.entry.create({ data: { id: 'autocommit', amount: 1 } })
    await pa.$transaction(async (tx) => {
      await tx.entry.create({ data: { id: 'own-transaction', amount: 1 } })
    })
    await pa
      .$transaction(async (tx) => {
        await tx.entry.create({ data: { id: 'own-rolled-back', amount: 1 } })
        throw new Error('no')
      })
      .catch(() => undefined)
    await pa.$transaction(async () => undefined, { isolationLevel: 'Serializable' })
    assert.deepEqual(await entryIds(a.pool), ['autocommit', 'own-transaction'])
    const strict = prismaOn(a, manager, true)
    t.after(() => strict.$disconnect())
    const refused = await strict.entry
      .create({ data: { id: 'refused', amount: 1 } })
      .catch((error: unknown) => error)
    assert.ok(isTransactionStateError(refused), String(refused))
    assert.match(refused.message, /explicit: true/)
    await manager.run(() => strict.entry.create({ data: { id: 'inside', amount: 1 } }))
    assert.deepEqual(await entryIds(a.pool), ['autocommit', 'inside', 'own-transaction'])
  })

  test('two concurrent transactions through the same clients never see each other', async (t) => {
    const { a, b, manager, pa, pb, done } = await twoBanks()
    t.after(done)
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const first = manager.run(async () => {
      await pa.entry.create({ data: { id: 'first', amount: 1 } })
      await gate
      await pb.account.update({ where: { id: 2 }, data: { balance: 7 } })
    })
    const second = manager
      .run(async () => {
        assert.deepEqual(await pa.entry.findMany(), [], 'the first is not committed')
        await pa.entry.create({ data: { id: 'second', amount: 1 } })
        release()
        throw new Error('second fails')
      })
      .catch((error: unknown) => error)
    await first
    assert.equal(((await second) as Error).message, 'second fails')
    assert.deepEqual(await entryIds(a.pool), ['first'])
    assert.deepEqual(await balances(b.pool), [100, 7])
  })

  test('a transaction sees its own uncommitted write through findUnique while another, and a read outside, in the same tick see the committed row', async (t) => {
    const { manager, pa, done } = await twoBanks()
    t.after(done)
    let open: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const arrived: Array<() => void> = []
    const bothReady = Promise.all(
      [0, 1].map(
        (index) =>
          new Promise<void>((resolve) => {
            arrived[index] = resolve
          }),
      ),
    )
    let outside: Promise<number | undefined> = Promise.resolve(undefined)
    let second: Promise<number | undefined> = Promise.resolve(undefined)
    const first = manager.run(async () => {
      await pa.account.update({ where: { id: 1 }, data: { balance: 1 } })
      arrived[0]?.()
      await gate
      const mine = await pa.account.findUnique({ where: { id: 1 } })
      // Still uncommitted while the others read.
      await Promise.all([second, outside])
      return mine?.balance
    })
    second = manager.run(async () => {
      await pa.entry.findMany()
      arrived[1]?.()
      await gate
      return (await pa.account.findUnique({ where: { id: 1 } }))?.balance
    })
    await bothReady
    open()
    // Prisma batches findUniques by tick and runs a batch in the first one's async context; its
    // promises run when awaited: then() sets this one off now.
    outside = pa.account.findUnique({ where: { id: 1 } }).then((row) => row?.balance)
    assert.equal(await first, 1, 'the first sees its own update')
    assert.equal(await second, 100, "the second does not see the first one's update")
    assert.equal(await outside, 100, 'nor does a read outside any transaction')
  })

  test('more transactions than pool connections, each reading first with findUnique: none waits forever', async (t) => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.database })
    const small = new pg.Pool({ connectionString: a.url, max: 2 })
    t.after(() => small.end())
    const client = new PrismaClient({
      adapter: new PrismaPg(
        txkitPrismaPool({ pool: small, database: pgDatabase(small, { name: 'a' }), manager }),
      ),
    }).$extends(txkitPrismaExtension(manager))
    t.after(() => client.$disconnect())
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, index) =>
        manager.run(async () => {
          const row = await client.account.findUnique({ where: { id: 1 } })
          await client.entry.create({ data: { id: `e${index}`, amount: row?.balance ?? 0 } })
          return (await client.account.findUnique({ where: { id: 2 } }))?.balance
        }),
      ),
    )
    assert.deepEqual(results, [0, 0, 0, 0, 0, 0, 0, 0])
    assert.equal((await entryIds(a.pool)).length, 8)
  })

  test('a client without txkitPrismaExtension is refused inside a transaction, with the fix; outside it works', async (t) => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.database })
    const bare = new PrismaClient({
      adapter: new PrismaPg(txkitPrismaPool({ pool: a.pool, database: a.database, manager })),
    })
    t.after(() => bare.$disconnect())
    const refused = await manager
      .run(() => bare.entry.create({ data: { id: 'never', amount: 1 } }))
      .catch((error: unknown) => error)
    // Without the extension, Prisma's own error carries txkit's code and message.
    assert.equal((refused as { code?: string }).code, 'TXKIT_CONFIGURATION')
    assert.match((refused as Error).message, /\$extends\(txkitPrismaExtension\(manager\)\)/)
    await bare.entry.create({ data: { id: 'outside', amount: 1 } })
    assert.deepEqual(await entryIds(a.pool), ['outside'])
  })

  test('the client extension feeds the record hooks with the rows written; an inner rollback drops them', async (t) => {
    const { manager, pa, done } = await twoBanks()
    t.after(done)
    const seen: string[] = []
    manager.onRecord('entries', {
      afterInsert: (row) => void seen.push(`insert ${JSON.stringify(row)}`),
      afterDelete: (row) => void seen.push(`delete ${(row as { id: string }).id}`),
    })
    manager.onRecord('accounts', {
      afterInsert: (row) => void seen.push(`insert account ${(row as { id: number }).id}`),
      afterUpdate: (row) => void seen.push(`update account ${JSON.stringify(row)}`),
    })
    await manager.run(async () => {
      await pa.entry.create({ data: { id: 'kept', amount: 1 } })
      await pa.account.update({ where: { id: 1 }, data: { balance: 99 } })
      await pa.account.upsert({
        where: { id: 2 },
        update: { balance: 1 },
        create: { id: 2, balance: 1 },
      })
      await pa.account.upsert({
        where: { id: 4 },
        update: { balance: 4 },
        create: { id: 4, balance: 4 },
      })
      await pa.entry.createManyAndReturn({ data: [{ id: 'many-1', amount: 1 }] })
      await pa.entry.create({ data: { id: 'gone', amount: 1 } })
      await pa.entry.delete({ where: { id: 'gone' } })
      await pa
        .$transaction(async (tx) => {
          await tx.entry.create({ data: { id: 'undone', amount: 2 } })
          throw new Error('inner')
        })
        .catch(() => undefined)
    })
    assert.deepEqual(seen, [
      'insert {"id":"kept","amount":1,"accountId":null}',
      'insert account 4',
      'insert {"id":"many-1","amount":1,"accountId":null}',
      'insert {"id":"gone","amount":1,"accountId":null}',
      'update account {"id":1,"balance":99}',
      'update account {"id":2,"balance":1}',
      'delete gone',
    ])
    seen.length = 0
    await pa.entry.create({ data: { id: 'outside', amount: 1 } })
    assert.deepEqual(seen, [], 'outside a transaction nothing is recorded')
  })
})

describe('Prisma transactions of concurrent async flows in one txkit transaction', () => {
  test('a sibling that begins while the first is open runs after it: its committed row is kept when the first rolls back', async () => {
    const { a, manager, pa, done } = await twoBanks()
    try {
      const outcome = await manager.run(() =>
        overlappingSiblings((work) =>
          pa.$transaction((tx) => work((id) => tx.entry.create({ data: { id, amount: 1 } }))),
        ),
      )
      assertSecondKept(outcome, await entryIds(a.pool))
      assert.deepEqual(await pgPrepared(a.pool), [])
    } finally {
      await done()
    }
  })
})

describe('Prisma over a database its adapter cannot drive', () => {
  test('a postgres.js database under PrismaPg is refused with the fix, nothing written', async (t) => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.database })
    const reservable = postgres(a.url, { max: 2, onnotice: () => {} })
    t.after(() => reservable.end({ timeout: 1 }))
    const wrong = new PrismaClient({
      adapter: new PrismaPg(
        txkitPrismaPool({
          pool: a.pool,
          database: postgresJsDatabase(reservable, { name: 'a' }),
          manager,
        }),
      ),
    }).$extends(txkitPrismaExtension(manager))
    t.after(() => wrong.$disconnect())
    const refused = await manager
      .run(() => wrong.entry.create({ data: { id: 'never', amount: 1 } }))
      .catch((error: unknown) => error)
    assert.ok(isConfigurationError(refused), String(refused))
    assert.match(refused.message, /pgDatabase \(txkit\/node-postgres\)/)
    assert.deepEqual(await entryIds(a.pool), [])
  })

  test('options are checked: an unknown name, a missing database, a pool of no adapter', async () => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.database })
    assert.throws(
      () =>
        txkitPrismaPool({ pool: a.pool, database: a.database, manager, explict: true } as never),
      (error: unknown) => isConfigurationError(error) && /explict/.test(error.message),
    )
    assert.throws(
      () => txkitPrismaPool({ pool: a.pool, manager } as never),
      (error: unknown) => isConfigurationError(error) && /needs database/.test(error.message),
    )
    assert.throws(
      () => txkitPrismaPool({ pool: {}, database: a.database, manager }),
      (error: unknown) => isConfigurationError(error) && /PrismaPg/.test(error.message),
    )
  })
})

describe('Prisma on txkit transactions (PostgreSQL + MariaDB)', () => {
  async function mariadbBank(t: { after(fn: () => unknown): void }) {
    const server = servers.mariadb
    if (server === undefined) return undefined
    const url = await server.createDatabase()
    const pool = mariadb.createPool({ ...connectorOptions(url), connectionLimit: 4 })
    t.after(() => pool.end())
    await pool.query(
      'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB',
    )
    await pool.query('INSERT INTO accounts VALUES (1, 100), (2, 0)')
    await pool.query(
      'CREATE TABLE entries (id varchar(64) PRIMARY KEY, amount int NOT NULL, account_id int NULL) ENGINE=InnoDB',
    )
    return { url, pool, database: await mariadbDatabase(pool, { name: 'm' }) }
  }

  async function mariadbRows(pool: ConnectorPool) {
    const accounts = await pool.query<{ balance: number }[]>(
      'SELECT balance FROM accounts ORDER BY id',
    )
    const entries = await pool.query<{ id: string }[]>('SELECT id FROM entries ORDER BY id')
    return { balances: accounts.map((row) => row.balance), entries: entries.map((row) => row.id) }
  }

  test('a transfer through PrismaPg and PrismaMariaDb: committed, a throw leaves nothing, implicit and own transactions inside', async (t) => {
    const a = await bank('a')
    const m = await mariadbBank(t)
    if (m === undefined) return t.skip('no MariaDB')
    const manager = await fixture.manager({ decisionLog: a.database })
    const pa = prismaOn(a, manager)
    const pm = new MysqlClient({
      adapter: new PrismaMariaDb(
        connectorPool(txkitPrismaPool({ pool: m.pool, database: m.database, manager })),
      ),
    }).$extends(txkitPrismaExtension(manager))
    t.after(() => Promise.all([pa.$disconnect(), pm.$disconnect()]))
    const indexed: unknown[] = []
    manager.onRecord('entries', { afterInsert: (row) => void indexed.push(row) })
    const move = async (amount: number, id: string) => {
      await pa.account.update({ where: { id: 1 }, data: { balance: { decrement: amount } } })
      await pm.$transaction(async (tx) => {
        await tx.account.update({ where: { id: 2 }, data: { balance: { increment: amount } } })
        // MySQL has no RETURNING: Prisma's create is an INSERT and a SELECT in a transaction.
        await tx.entry.create({ data: { id, amount } })
      })
      await pm
        .$transaction(async (tx) => {
          await tx.entry.create({ data: { id: `${id}-undone`, amount } })
          throw new Error('inner')
        })
        .catch(() => undefined)
    }
    await manager.run(() => move(10, 'm1'))
    const thrown = await manager
      .run(async () => {
        await move(50, 'm2')
        throw new Error('no')
      })
      .catch((error: unknown) => error)
    assert.equal((thrown as Error).message, 'no')
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await mariadbRows(m.pool), { balances: [100, 10], entries: ['m1'] })
    assert.deepEqual(indexed, [{ id: 'm1', amount: 10, accountId: null }])
    const configured = await manager
      .run(async () => {
        await move(1, 'm3')
        await pm.$transaction(async () => undefined, { isolationLevel: 'Serializable' })
      })
      .catch((error: unknown) => error)
    assert.ok(isConfigurationError(configured), String(configured))
    await pm.entry.create({ data: { id: 'autocommit', amount: 1 } })
    assert.deepEqual(await mariadbRows(m.pool), {
      balances: [100, 10],
      entries: ['autocommit', 'm1'],
    })
    assert.deepEqual(await pgPrepared(a.pool), [])
    assert.equal((await m.pool.query<unknown[]>('XA RECOVER')).length, 0, 'nothing left prepared')
  })

  test('create() calls in Promise.all on MariaDB (each an implicit transaction) all commit', async (t) => {
    const a = await bank('a')
    const m = await mariadbBank(t)
    if (m === undefined) return t.skip('no MariaDB')
    const manager = await fixture.manager({ decisionLog: a.database })
    const pm = new MysqlClient({
      adapter: new PrismaMariaDb(
        connectorPool(txkitPrismaPool({ pool: m.pool, database: m.database, manager })),
      ),
    }).$extends(txkitPrismaExtension(manager))
    t.after(() => pm.$disconnect())
    const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']
    await manager.run(() =>
      Promise.all(ids.map((id) => pm.entry.create({ data: { id, amount: 1 } }))),
    )
    assert.deepEqual((await mariadbRows(m.pool)).entries, ids)
    assert.equal((await m.pool.query<unknown[]>('XA RECOVER')).length, 0, 'nothing left prepared')
  })

  test('a mysql2 database under PrismaMariaDb is refused with the fix, nothing written', async (t) => {
    const a = await bank('a')
    const m = await mariadbBank(t)
    if (m === undefined) return t.skip('no MariaDB')
    const manager = await fixture.manager({ decisionLog: a.database })
    const mysql2 = await import('mysql2/promise')
    const other = mysql2.createPool({ uri: m.url, connectionLimit: 2 })
    t.after(() => other.end())
    const wrong = new MysqlClient({
      adapter: new PrismaMariaDb(
        connectorPool(
          txkitPrismaPool({ pool: m.pool, database: mysqlDatabase(other, { name: 'm' }), manager }),
        ),
      ),
    }).$extends(txkitPrismaExtension(manager))
    t.after(() => wrong.$disconnect())
    const refused = await manager
      .run(() => wrong.entry.create({ data: { id: 'never', amount: 1 } }))
      .catch((error: unknown) => error)
    assert.ok(isConfigurationError(refused), String(refused))
    assert.match(refused.message, /mariadbDatabase \(txkit\/mariadb\)/)
    assert.deepEqual((await mariadbRows(m.pool)).entries, [])
  })
})

/**
 * PrismaMariaDb pins its own mariadb (3.4.5 with Prisma 7.10), whose Pool type differs from the
 * connector these tests install; at run time it takes any object with `getConnection`.
 */
function connectorPool(pool: ConnectorPool): ConstructorParameters<typeof PrismaMariaDb>[0] {
  return pool as unknown as ConstructorParameters<typeof PrismaMariaDb>[0]
}

function connectorOptions(url: string): PoolConfig {
  const parsed = new URL(url)
  return {
    host: parsed.hostname,
    port: Number(parsed.port),
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: parsed.pathname.slice(1),
  }
}
