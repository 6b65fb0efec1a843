/**
 * Drizzle on txkit transactions (`txkit/drizzle`): one application-wide Drizzle db per database,
 * made with `txkitDrizzleClient` in place of the pool, used as Drizzle's docs show. Drizzle's
 * node-postgres and mysql2 drivers need pg and mysql2 databases, so these tests open their own
 * whatever the driver pass. Asserts on rows in the databases.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { eq, sql } from 'drizzle-orm'
import { int, mysqlTable } from 'drizzle-orm/mysql-core'
import { drizzle as drizzleMysql } from 'drizzle-orm/mysql2'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, text } from 'drizzle-orm/pg-core'
import type mysql from 'mysql2/promise'
import postgres from 'postgres'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../../harness/fixture.js'
import { assertSecondKept, overlappingSiblings } from '../../harness/siblings.js'
import {
  balances,
  entryIds,
  mariadbToolDatabase,
  outboxBodies,
  TOOL_OUTBOX,
  toolBank,
} from '../../harness/tool-bank.js'
import { recordWrites, txkitDrizzleClient } from '../../src/drizzle/drizzle.js'
import {
  createOutboxTables,
  isConfigurationError,
  isTransactionControlRefusedError,
  isTransactionStateError,
  type TransactionManager,
  type TransactionManagerOptions,
} from '../../src/index.js'
import { mysqlDatabase } from '../../src/mysql/mysql2.js'
import { postgresJsDatabase } from '../../src/postgres/postgres-js.js'

const servers = serversForFile()
const { fixture } = servers

const accounts = pgTable('accounts', {
  id: integer('id').primaryKey(),
  balance: integer('balance').notNull(),
})
const entries = pgTable('entries', {
  id: text('id').primaryKey(),
  amount: integer('amount').notNull(),
})
const myAccounts = mysqlTable('accounts', {
  id: int('id').primaryKey(),
  balance: int('balance').notNull(),
})

const bank = (name: string) => toolBank(servers, name)

function drizzleOn(
  bankOf: Awaited<ReturnType<typeof bank>>,
  manager: TransactionManager,
  explicit = false,
) {
  return drizzle({
    client: txkitDrizzleClient({
      pool: bankOf.pool,
      database: bankOf.database,
      manager,
      ...(explicit && { explicit }),
    }),
  })
}

async function twoBanks(options: Partial<TransactionManagerOptions> = {}) {
  const a = await bank('a')
  const b = await bank('b')
  const manager = await fixture.manager({ decisionLog: a.database, ...options })
  return { a, b, manager, da: drizzleOn(a, manager), db: drizzleOn(b, manager) }
}

type Db = ReturnType<typeof drizzleOn>

async function transfer(from: Db, to: Db, amount: number, id: string) {
  await from
    .update(accounts)
    .set({ balance: sql`${accounts.balance} - ${amount}` })
    .where(eq(accounts.id, 1))
  await to
    .update(accounts)
    .set({ balance: sql`${accounts.balance} + ${amount}` })
    .where(eq(accounts.id, 2))
  await from.insert(entries).values({ id, amount: -amount })
}

describe('Drizzle on txkit transactions (PostgreSQL + PostgreSQL)', () => {
  test('a transfer written through Drizzle commits in both databases; a throw leaves nothing anywhere', async () => {
    const { a, b, manager, da, db } = await twoBanks()
    await manager.run(() => transfer(da, db, 10, 't1'))
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    const thrown = await manager
      .run(async () => {
        await transfer(da, db, 5, 't2')
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

  test('db.transaction() inside is a savepoint: a failing one undoes only its work, nested ones too', async () => {
    const { a, b, manager, da, db } = await twoBanks({ outbox: TOOL_OUTBOX })
    await createOutboxTables(a.db)
    await manager.run(async () => {
      await transfer(da, db, 10, 'outer')
      manager.outbox.send('events', 'outer')
      const inner = await da
        .transaction(async (tx) => {
          await tx.insert(entries).values({ id: 'inner-failed', amount: 1 })
          manager.outbox.send('events', 'inner-failed')
          throw new Error('inner failure')
        })
        .catch((error: unknown) => error)
      assert.equal((inner as Error).message, 'inner failure')
      await da.transaction(async (tx) => {
        await tx.insert(entries).values({ id: 'inner-kept', amount: 2 })
        manager.outbox.send('events', 'inner-kept')
        await tx
          .transaction(async (nested) => {
            await nested.insert(entries).values({ id: 'nested-undone', amount: 3 })
            manager.outbox.send('events', 'nested-undone')
            throw new Error('nested failure')
          })
          .catch(() => undefined)
      })
    })
    assert.deepEqual(await entryIds(a.pool), ['inner-kept', 'outer'])
    assert.deepEqual(await balances(b.pool), [100, 10])
    assert.deepEqual(await outboxBodies(a.pool), ['outer', 'inner-kept'])
  })

  test('transaction config inside is refused; COMMIT sent through Drizzle is refused; nothing is split', async () => {
    const { a, b, manager, da, db } = await twoBanks()
    const configured = await manager
      .run(async () => {
        await transfer(da, db, 10, 'configured')
        await da.transaction(async () => undefined, { isolationLevel: 'serializable' })
      })
      .catch((error: unknown) => error)
    // Drizzle wraps a failed query's error: txkit's is its cause.
    const configuredCause = (configured as { cause?: unknown }).cause
    assert.ok(isConfigurationError(configuredCause), String(configured))
    assert.match(configuredCause.message, /isolation level/)
    const stray = await manager
      .run(async () => {
        await transfer(da, db, 10, 'stray')
        await db.execute(sql`COMMIT`)
      })
      .catch((error: unknown) => error)
    assert.ok(isTransactionControlRefusedError((stray as { cause?: unknown }).cause), String(stray))
    assert.deepEqual(await balances(a.pool), [100, 0])
    assert.deepEqual(await balances(b.pool), [100, 0])
    assert.deepEqual(await entryIds(a.pool), [])
  })

  test('outside any transaction Drizzle uses the pool as usual, own transactions included; explicit mode refuses', async () => {
    const { a, manager, da } = await twoBanks()
    await da.insert(entries).values({ id: 'autocommit', amount: 1 })
    await da.transaction(async (tx) => {
      await tx.insert(entries).values({ id: 'own-transaction', amount: 1 })
    })
    await da
      .transaction(async (tx) => {
        await tx.insert(entries).values({ id: 'own-rolled-back', amount: 1 })
        throw new Error('no')
      })
      .catch(() => undefined)
    assert.deepEqual(await entryIds(a.pool), ['autocommit', 'own-transaction'])
    const strict = drizzleOn(a, manager, true)
    await assert.rejects(
      strict.insert(entries).values({ id: 'refused', amount: 1 }),
      (error: unknown) => {
        const cause = (error as { cause?: unknown }).cause
        return isTransactionStateError(cause) && /explicit: true/.test(cause.message)
      },
    )
    await manager.run(() => strict.insert(entries).values({ id: 'inside', amount: 1 }))
    assert.deepEqual(await entryIds(a.pool), ['autocommit', 'inside', 'own-transaction'])
  })

  test('two concurrent transactions through the same Drizzle dbs never see each other', async () => {
    const { a, b, manager, da, db } = await twoBanks()
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const first = manager.run(async () => {
      await da.insert(entries).values({ id: 'first', amount: 1 })
      await gate
      await db.update(accounts).set({ balance: 7 }).where(eq(accounts.id, 2))
    })
    const second = manager
      .run(async () => {
        assert.deepEqual(await da.select().from(entries), [], 'the first is not committed')
        await da.insert(entries).values({ id: 'second', amount: 1 })
        release()
        throw new Error('second fails')
      })
      .catch((error: unknown) => error)
    await first
    assert.equal(((await second) as Error).message, 'second fails')
    assert.deepEqual(await entryIds(a.pool), ['first'])
    assert.deepEqual(await balances(b.pool), [100, 7])
  })

  test('recordWrites feeds the record hooks from .returning() rows; an inner rollback drops them', async () => {
    const { manager, da } = await twoBanks()
    const indexed: unknown[] = []
    manager.onRecord('entries', { afterInsert: (row) => void indexed.push(row) })
    await manager.run(async () => {
      await recordWrites(
        manager,
        'insert',
        'entries',
        da.insert(entries).values({ id: 'kept', amount: 1 }).returning(),
      )
      await da
        .transaction(async (tx) => {
          await recordWrites(
            manager,
            'insert',
            'entries',
            tx.insert(entries).values({ id: 'undone', amount: 2 }).returning(),
          )
          throw new Error('inner')
        })
        .catch(() => undefined)
    })
    assert.deepEqual(indexed, [{ id: 'kept', amount: 1 }])
  })
})

describe('Drizzle transactions of concurrent async flows in one txkit transaction', () => {
  test('a sibling that begins while the first is open runs after it: its committed row is kept when the first rolls back', async () => {
    const { a, manager, da } = await twoBanks()
    const outcome = await manager.run(() =>
      overlappingSiblings((work) =>
        da.transaction((tx) => work((id) => tx.insert(entries).values({ id, amount: 1 }))),
      ),
    )
    assertSecondKept(outcome, await entryIds(a.pool))
    assert.deepEqual(await pgPrepared(a.pool), [])
  })
})

describe('Drizzle over a database its driver cannot drive', () => {
  test('a postgres.js database under Drizzle’s node-postgres driver is refused with the fix, nothing written', async () => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.database })
    const reservable = postgres(a.url, { max: 2, onnotice: () => {} })
    try {
      const wrong = drizzle({
        client: txkitDrizzleClient({
          pool: a.pool,
          database: postgresJsDatabase(reservable, { name: 'a' }),
          manager,
        }),
      })
      const refused = await manager
        .run(() => wrong.insert(entries).values({ id: 'never', amount: 1 }))
        .catch((error: unknown) => error)
      const cause = (refused as { cause?: unknown }).cause ?? refused
      assert.ok(isConfigurationError(cause), String(refused))
      assert.match(cause.message, /pgDatabase \(txkit\/node-postgres\)/)
      assert.deepEqual(await entryIds(a.pool), [])
    } finally {
      await reservable.end({ timeout: 1 })
    }
  })
})

describe('Drizzle on txkit transactions (PostgreSQL + MariaDB)', () => {
  test('a transfer through Drizzle’s node-postgres and mysql2 drivers: committed, then a throw leaves nothing', async (t) => {
    const mariadb = await mariadbToolDatabase(servers, t)
    if (mariadb === undefined) return t.skip('no MariaDB')
    const { pool } = mariadb
    const a = await bank('a')
    await pool.query(
      'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB',
    )
    await pool.query('INSERT INTO accounts VALUES (1, 100), (2, 0)')
    const m = mysqlDatabase(pool, { name: 'm' })
    const manager = await fixture.manager({ decisionLog: a.database })
    const da = drizzleOn(a, manager)
    const dm = drizzleMysql({ client: txkitDrizzleClient({ pool, database: m, manager }) })
    const move = async (amount: number) => {
      await da
        .update(accounts)
        .set({ balance: sql`${accounts.balance} - ${amount}` })
        .where(eq(accounts.id, 1))
      await dm.transaction(async (tx) => {
        await tx
          .update(myAccounts)
          .set({ balance: sql`${myAccounts.balance} + ${amount}` })
          .where(eq(myAccounts.id, 2))
      })
    }
    await manager.run(() => move(10))
    const thrown = await manager
      .run(async () => {
        await move(50)
        throw new Error('no')
      })
      .catch((error: unknown) => error)
    assert.equal((thrown as Error).message, 'no')
    assert.deepEqual(await balances(a.pool), [90, 0])
    const [rows] = await pool.query<mysql.RowDataPacket[]>(
      'SELECT balance FROM accounts ORDER BY id',
    )
    assert.deepEqual(
      rows.map((row) => row.balance),
      [100, 10],
    )
    assert.deepEqual(await pgPrepared(a.pool), [])
    assert.deepEqual(await xaRecover(pool), [])
  })
})
