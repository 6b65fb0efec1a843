/**
 * TypeORM on txkit transactions (`txkit/typeorm`): one application-wide DataSource per database,
 * used as TypeORM's docs show (EntityManager, repositories, `save()`). TypeORM's postgres and mysql
 * drivers need pg and mysql2 databases, so these tests open their own whatever the driver pass.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import postgres from 'postgres'
import { DataSource, EntitySchema } from 'typeorm'
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
import { txkitTypeorm } from '../../src/typeorm/typeorm.js'

const servers = serversForFile()
const { fixture } = servers

interface Account {
  id: number
  balance: number
}
interface Entry {
  id: string
  amount: number
}
const AccountSchema = new EntitySchema<Account>({
  name: 'Account',
  tableName: 'accounts',
  columns: { id: { type: Number, primary: true }, balance: { type: Number } },
})
const EntrySchema = new EntitySchema<Entry>({
  name: 'Entry',
  tableName: 'entries',
  columns: { id: { type: String, primary: true }, amount: { type: Number } },
})

const sources: DataSource[] = []

const bank = (name: string) => toolBank(servers, name)

async function typeormOn(
  b: Awaited<ReturnType<typeof bank>>,
  manager: TransactionManager,
  explicit = false,
) {
  const dataSource = new DataSource({
    type: 'postgres',
    url: b.url,
    entities: [AccountSchema, EntrySchema],
    poolSize: 4,
  })
  sources.push(dataSource)
  return txkitTypeorm(await dataSource.initialize(), {
    database: b.database,
    manager,
    ...(explicit && { explicit }),
  })
}

async function twoBanks(options: Partial<TransactionManagerOptions> = {}) {
  const a = await bank('a')
  const b = await bank('b')
  const manager = await fixture.manager({ decisionLog: a.database, ...options })
  return { a, b, manager, ta: await typeormOn(a, manager), tb: await typeormOn(b, manager) }
}

/** A transfer the way TypeORM's docs write one: repositories, decrement/increment and save(). */
async function transfer(from: DataSource, to: DataSource, amount: number, id: string) {
  await from.getRepository(AccountSchema).decrement({ id: 1 }, 'balance', amount)
  await to.getRepository(AccountSchema).increment({ id: 2 }, 'balance', amount)
  // save() opens a transaction of its own: here, a savepoint of the txkit transaction.
  await from.manager.save(EntrySchema, { id, amount: -amount })
}

describe('TypeORM on txkit transactions (PostgreSQL + PostgreSQL)', () => {
  test('a transfer through TypeORM commits in both databases; a throw leaves nothing anywhere', async () => {
    const { a, b, manager, ta, tb } = await twoBanks()
    await manager.run(() => transfer(ta, tb, 10, 't1'))
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    const thrown = await manager
      .run(async () => {
        await transfer(ta, tb, 5, 't2')
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

  test('dataSource.transaction() inside is a savepoint: a failing one undoes only its work', async () => {
    const { a, b, manager, ta, tb } = await twoBanks({ outbox: TOOL_OUTBOX })
    await createOutboxTables(a.db)
    await manager.run(async () => {
      await transfer(ta, tb, 10, 'outer')
      manager.outbox.send('events', 'outer')
      const inner = await ta
        .transaction(async (em) => {
          await em.save(EntrySchema, { id: 'inner-failed', amount: 1 })
          manager.outbox.send('events', 'inner-failed')
          throw new Error('inner failure')
        })
        .catch((error: unknown) => error)
      assert.equal((inner as Error).message, 'inner failure')
      await ta.transaction(async (em) => {
        await em.save(EntrySchema, { id: 'inner-kept', amount: 2 })
        manager.outbox.send('events', 'inner-kept')
      })
    })
    assert.deepEqual(await entryIds(a.pool), ['inner-kept', 'outer'])
    assert.deepEqual(await balances(b.pool), [100, 10])
    assert.deepEqual(await outboxBodies(a.pool), ['outer', 'inner-kept'])
  })

  test('an isolation level inside is refused; COMMIT sent through TypeORM is refused; nothing is split', async () => {
    const { a, b, manager, ta, tb } = await twoBanks()
    const configured = await manager
      .run(async () => {
        await transfer(ta, tb, 10, 'configured')
        await ta.transaction('SERIALIZABLE', async () => undefined)
      })
      .catch((error: unknown) => error)
    assert.ok(isConfigurationError(configured), String(configured))
    assert.match(configured.message, /ISOLATION LEVEL SERIALIZABLE" cannot apply/)
    const stray = await manager
      .run(async () => {
        await transfer(ta, tb, 10, 'stray')
        await tb.query('COMMIT')
      })
      .catch((error: unknown) => error)
    const cause = (stray as { driverError?: unknown }).driverError ?? stray
    assert.ok(isTransactionControlRefusedError(cause), String(stray))
    assert.deepEqual(await balances(a.pool), [100, 0])
    assert.deepEqual(await balances(b.pool), [100, 0])
    assert.deepEqual(await entryIds(a.pool), [])
  })

  test('outside any transaction TypeORM uses its pool as usual; explicit mode refuses', async () => {
    const { a, manager, ta } = await twoBanks()
    await ta.manager.save(EntrySchema, { id: 'autocommit', amount: 1 })
    await ta
      .transaction(async (em) => {
        await em.save(EntrySchema, { id: 'own-rolled-back', amount: 1 })
        throw new Error('no')
      })
      .catch(() => undefined)
    assert.deepEqual(await entryIds(a.pool), ['autocommit'])
    const strict = await typeormOn(a, manager, true)
    await assert.rejects(
      strict.manager.save(EntrySchema, { id: 'refused', amount: 1 }),
      (error: unknown) => isTransactionStateError(error) && /explicit: true/.test(error.message),
    )
    await manager.run(() => strict.manager.save(EntrySchema, { id: 'inside', amount: 1 }))
    assert.deepEqual(await entryIds(a.pool), ['autocommit', 'inside'])
  })

  test('two concurrent transactions through the same DataSources never see each other', async () => {
    const { a, b, manager, ta, tb } = await twoBanks()
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const first = manager.run(async () => {
      await ta.manager.save(EntrySchema, { id: 'first', amount: 1 })
      await gate
      await tb.getRepository(AccountSchema).update({ id: 2 }, { balance: 7 })
    })
    const second = manager
      .run(async () => {
        assert.deepEqual(
          await ta.getRepository(EntrySchema).find(),
          [],
          'the first is not committed',
        )
        await ta.manager.save(EntrySchema, { id: 'second', amount: 1 })
        release()
        throw new Error('second fails')
      })
      .catch((error: unknown) => error)
    await first
    assert.equal(((await second) as Error).message, 'second fails')
    assert.deepEqual(await entryIds(a.pool), ['first'])
    assert.deepEqual(await balances(b.pool), [100, 7])
  })

  test('record hooks are fed from TypeORM’s subscriber events with a snapshot, and dropped on an inner rollback', async () => {
    const { manager, ta } = await twoBanks()
    const indexed: unknown[] = []
    manager.onRecord('entries', { afterInsert: (row) => void indexed.push(row) })
    await manager.run(async () => {
      const entry = { id: 'kept', amount: 1 }
      await ta.manager.save(EntrySchema, entry)
      entry.amount = 999 // changed after the write: the snapshot is not
      await ta
        .transaction(async (em) => {
          await em.save(EntrySchema, { id: 'undone', amount: 2 })
          throw new Error('inner')
        })
        .catch(() => undefined)
    })
    assert.deepEqual(indexed, [{ id: 'kept', amount: 1 }])
  })
})

describe('TypeORM transactions of concurrent async flows in one txkit transaction', () => {
  test('a sibling that begins while the first is open runs after it: its committed row is kept when the first rolls back', async () => {
    const { a, manager, ta } = await twoBanks()
    const outcome = await manager.run(() =>
      overlappingSiblings((work) =>
        ta.transaction((em) => work((id) => em.save(EntrySchema, { id, amount: 1 }))),
      ),
    )
    assertSecondKept(outcome, await entryIds(a.pool))
    assert.deepEqual(await pgPrepared(a.pool), [])
  })

  test('save() calls in Promise.all (implicit transactions) all commit; a failing one is undone alone', async () => {
    const { a, manager, ta } = await twoBanks()
    await manager.run(() =>
      Promise.all(
        ['p1', 'p2', 'p3', 'p4'].map((id) => ta.manager.save(EntrySchema, { id, amount: 1 })),
      ),
    )
    assert.deepEqual(await entryIds(a.pool), ['p1', 'p2', 'p3', 'p4'])
    // A NOT NULL violation inside one save(): its implicit transaction is undone, the others stay.
    const settled = await manager.run(() =>
      Promise.allSettled(
        [5, null, 6].map((amount) =>
          ta.manager.save(EntrySchema, { id: `p${amount ?? 'x'}`, amount: amount as number }),
        ),
      ),
    )
    assert.deepEqual(
      settled.map((result) => result.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    )
    assert.deepEqual(await entryIds(a.pool), ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'])
    assert.deepEqual(await pgPrepared(a.pool), [])
  })
})

describe('TypeORM over a database its driver cannot drive', () => {
  test('a postgres.js database under TypeORM’s postgres driver is refused with the fix, nothing written', async () => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.database })
    const sql = postgres(a.url, { max: 2, onnotice: () => {} })
    const dataSource = new DataSource({
      type: 'postgres',
      url: a.url,
      entities: [EntrySchema],
      poolSize: 2,
    })
    sources.push(dataSource)
    try {
      const wrong = txkitTypeorm(await dataSource.initialize(), {
        database: postgresJsDatabase(sql, { name: 'a' }),
        manager,
      })
      const refused = await manager
        .run(() => wrong.manager.save(EntrySchema, { id: 'never', amount: 1 }))
        .catch((error: unknown) => error)
      assert.ok(isConfigurationError(refused), String(refused))
      assert.match(refused.message, /pgDatabase \(node-postgres\)/)
      assert.deepEqual(await entryIds(a.pool), [])
    } finally {
      await sql.end({ timeout: 1 })
    }
  })
})

describe('TypeORM on txkit transactions (PostgreSQL + MariaDB)', () => {
  test('a transfer through TypeORM’s postgres and mariadb drivers: committed, then a throw leaves nothing', async (t) => {
    const mariadb = await mariadbToolDatabase(servers, t)
    if (mariadb === undefined) return t.skip('no MariaDB')
    const { url, pool } = mariadb
    const a = await bank('a')
    await pool.query(
      'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB',
    )
    await pool.query('INSERT INTO accounts VALUES (1, 100), (2, 0)')
    const manager = await fixture.manager({ decisionLog: a.database })
    const ta = await typeormOn(a, manager)
    const my = new DataSource({ type: 'mariadb', url, entities: [AccountSchema], poolSize: 4 })
    sources.push(my)
    const tm = txkitTypeorm(await my.initialize(), {
      database: mysqlDatabase(pool, { name: 'm' }),
      manager,
    })
    const move = async (amount: number) => {
      await ta.getRepository(AccountSchema).decrement({ id: 1 }, 'balance', amount)
      await tm.transaction(async (em) => {
        await em.getRepository(AccountSchema).increment({ id: 2 }, 'balance', amount)
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

describe('TypeORM implicit transactions in Promise.all on MariaDB', () => {
  test('save() calls in Promise.all through the mariadb driver all commit', async (t) => {
    const mariadb = await mariadbToolDatabase(servers, t)
    if (mariadb === undefined) return t.skip('no MariaDB')
    const { url, pool } = mariadb
    const a = await bank('a')
    await pool.query(
      'CREATE TABLE entries (id varchar(64) PRIMARY KEY, amount int NOT NULL) ENGINE=InnoDB',
    )
    const manager = await fixture.manager({ decisionLog: a.database })
    const my = new DataSource({ type: 'mariadb', url, entities: [EntrySchema], poolSize: 4 })
    sources.push(my)
    const tm = txkitTypeorm(await my.initialize(), {
      database: mysqlDatabase(pool, { name: 'm' }),
      manager,
    })
    const ids = ['m1', 'm2', 'm3', 'm4', 'm5']
    await manager.run(() =>
      Promise.all(ids.map((id) => tm.manager.save(EntrySchema, { id, amount: 1 }))),
    )
    const [rows] = await pool.query<mysql.RowDataPacket[]>('SELECT id FROM entries ORDER BY id')
    assert.deepEqual(
      rows.map((row) => row.id),
      ids,
    )
    assert.deepEqual(await xaRecover(pool), [])
  })
})

test('DataSources are destroyed', async () => {
  for (const source of sources.splice(0)) await source.destroy()
})
