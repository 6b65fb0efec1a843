/**
 * Knex on txkit transactions (`txkit/knex`): one application-wide Knex instance per database, used
 * as Knex's docs show. Knex's pg and mysql2 clients need pg and mysql2 databases, so these tests open
 * their own whatever the driver pass. Asserts on rows in the databases.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import knex, { type Knex } from 'knex'
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
import {
  createOutboxTables,
  isConfigurationError,
  isTransactionControlRefusedError,
  isTransactionStateError,
  type TransactionManager,
  type TransactionManagerOptions,
} from '../../src/index.js'
import { txkitKnex } from '../../src/knex/knex.js'
import { mysqlDatabase } from '../../src/mysql/mysql2.js'
import { postgresJsDatabase } from '../../src/postgres/postgres-js.js'

const servers = serversForFile()
const { fixture } = servers
const instances: Knex[] = []

const bank = (name: string) => toolBank(servers, name)

function knexOn(
  b: Awaited<ReturnType<typeof bank>>,
  manager: TransactionManager,
  explicit = false,
) {
  const instance = knex({ client: 'pg', connection: b.url, pool: { min: 0, max: 4 } })
  instances.push(instance)
  return txkitKnex(instance, { database: b.database, manager, ...(explicit && { explicit }) })
}

async function twoBanks(options: Partial<TransactionManagerOptions> = {}) {
  const a = await bank('a')
  const b = await bank('b')
  const manager = await fixture.manager({ decisionLog: a.database, ...options })
  return { a, b, manager, ka: knexOn(a, manager), kb: knexOn(b, manager) }
}

async function transfer(from: Knex, to: Knex, amount: number, id: string) {
  await from('accounts').where({ id: 1 }).decrement('balance', amount)
  await to('accounts').where({ id: 2 }).increment('balance', amount)
  await from('entries').insert({ id, amount: -amount })
}

describe('Knex on txkit transactions (PostgreSQL + PostgreSQL)', () => {
  test('a transfer written through Knex commits in both databases; a throw leaves nothing anywhere', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    await manager.run(() => transfer(ka, kb, 10, 't1'))
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    const thrown = await manager
      .run(async () => {
        await transfer(ka, kb, 5, 't2')
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

  test('knex.transaction() inside is a savepoint: a failing one undoes only its work, nested ones too', async () => {
    const { a, b, manager, ka, kb } = await twoBanks({ outbox: TOOL_OUTBOX })
    await createOutboxTables(a.db)
    await manager.run(async () => {
      await transfer(ka, kb, 10, 'outer')
      manager.outbox.send('events', 'outer')
      const inner = await ka
        .transaction(async (trx) => {
          await trx('entries').insert({ id: 'inner-failed', amount: 1 })
          manager.outbox.send('events', 'inner-failed')
          throw new Error('inner failure')
        })
        .catch((error: unknown) => error)
      assert.equal((inner as Error).message, 'inner failure')
      await ka.transaction(async (trx) => {
        await trx('entries').insert({ id: 'inner-kept', amount: 2 })
        manager.outbox.send('events', 'inner-kept')
        await trx
          .transaction(async (nested) => {
            await nested('entries').insert({ id: 'nested-undone', amount: 3 })
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

  test('an isolation level inside is refused; COMMIT sent through Knex is refused; nothing is split', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    const configured = await manager
      .run(async () => {
        await transfer(ka, kb, 10, 'configured')
        await ka.transaction(async () => undefined, { isolationLevel: 'serializable' })
      })
      .catch((error: unknown) => error)
    assert.ok(isConfigurationError(configured), String(configured))
    assert.match(configured.message, /isolationLevel: 'serializable' cannot apply/)
    const stray = await manager
      .run(async () => {
        await transfer(ka, kb, 10, 'stray')
        await kb.raw('COMMIT')
      })
      .catch((error: unknown) => error)
    assert.ok(isTransactionControlRefusedError(stray), String(stray))
    assert.deepEqual(await balances(a.pool), [100, 0])
    assert.deepEqual(await balances(b.pool), [100, 0])
    assert.deepEqual(await entryIds(a.pool), [])
  })

  test('outside any transaction Knex uses its pool as usual, own transactions included; explicit mode refuses', async () => {
    const { a, manager, ka } = await twoBanks()
    await ka('entries').insert({ id: 'autocommit', amount: 1 })
    await ka.transaction(async (trx) => {
      await trx('entries').insert({ id: 'own-transaction', amount: 1 })
    })
    await ka
      .transaction(async (trx) => {
        await trx('entries').insert({ id: 'own-rolled-back', amount: 1 })
        throw new Error('no')
      })
      .catch(() => undefined)
    assert.deepEqual(await entryIds(a.pool), ['autocommit', 'own-transaction'])
    const strict = knexOn(a, manager, true)
    await assert.rejects(
      async () => strict('entries').insert({ id: 'refused', amount: 1 }),
      (error: unknown) => isTransactionStateError(error) && /explicit: true/.test(error.message),
    )
    await manager.run(async () => {
      await strict('entries').insert({ id: 'inside', amount: 1 })
    })
    assert.deepEqual(await entryIds(a.pool), ['autocommit', 'inside', 'own-transaction'])
  })

  test('two concurrent transactions through the same Knex instances never see each other', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const first = manager.run(async () => {
      await ka('entries').insert({ id: 'first', amount: 1 })
      await gate
      await kb('accounts').where({ id: 2 }).update({ balance: 7 })
    })
    const second = manager
      .run(async () => {
        assert.deepEqual(await ka('entries').select('id'), [], 'the first is not committed')
        await ka('entries').insert({ id: 'second', amount: 1 })
        release()
        throw new Error('second fails')
      })
      .catch((error: unknown) => error)
    await first
    assert.equal(((await second) as Error).message, 'second fails')
    assert.deepEqual(await entryIds(a.pool), ['first'])
    assert.deepEqual(await balances(b.pool), [100, 7])
  })

  test('record hooks are fed from Knex’s query events for writes that return rows, and dropped on an inner rollback', async () => {
    const { manager, ka } = await twoBanks()
    const indexed: unknown[] = []
    manager.onRecord('entries', { afterInsert: (row) => void indexed.push(row) })
    await manager.run(async () => {
      await ka('entries').insert({ id: 'kept', amount: 1 }).returning('*')
      await ka
        .transaction(async (trx) => {
          await trx('entries').insert({ id: 'undone', amount: 2 }).returning('*')
          throw new Error('inner')
        })
        .catch(() => undefined)
    })
    assert.deepEqual(indexed, [{ id: 'kept', amount: 1 }])
  })
})

describe('Knex transactions of concurrent async flows in one txkit transaction', () => {
  test('a sibling that begins while the first is open runs after it: its committed row is kept when the first rolls back', async () => {
    const { a, manager, ka } = await twoBanks()
    const outcome = await manager.run(() =>
      overlappingSiblings((work) =>
        ka.transaction((trx) => work((id) => trx('entries').insert({ id, amount: 1 }))),
      ),
    )
    assertSecondKept(outcome, await entryIds(a.pool))
    assert.deepEqual(await pgPrepared(a.pool), [])
  })
})

describe('Knex over a database its client cannot drive', () => {
  test('a postgres.js database under Knex’s pg client is refused with the fix, nothing written', async () => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.database })
    const sql = postgres(a.url, { max: 2, onnotice: () => {} })
    const instance = knex({ client: 'pg', connection: a.url, pool: { min: 0, max: 2 } })
    instances.push(instance)
    try {
      const wrong = txkitKnex(instance, {
        database: postgresJsDatabase(sql, { name: 'a' }),
        manager,
      })
      const refused = await manager
        .run(async () => {
          await wrong('entries').insert({ id: 'never', amount: 1 })
        })
        .catch((error: unknown) => error)
      assert.ok(isConfigurationError(refused), String(refused))
      assert.match(refused.message, /pgDatabase \(node-postgres\)/)
      assert.deepEqual(await entryIds(a.pool), [])
    } finally {
      await sql.end({ timeout: 1 })
    }
  })
})

describe('Knex on txkit transactions (PostgreSQL + MariaDB)', () => {
  test('a transfer through Knex’s pg and mysql2 clients: committed, then a throw leaves nothing', async (t) => {
    const mariadb = await mariadbToolDatabase(servers, t)
    if (mariadb === undefined) return t.skip('no MariaDB')
    const { url, pool } = mariadb
    const a = await bank('a')
    await pool.query(
      'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB',
    )
    await pool.query('INSERT INTO accounts VALUES (1, 100), (2, 0)')
    const manager = await fixture.manager({ decisionLog: a.database })
    const ka = knexOn(a, manager)
    const km = txkitKnex(knex({ client: 'mysql2', connection: url, pool: { min: 0, max: 4 } }), {
      database: mysqlDatabase(pool, { name: 'm' }),
      manager,
    })
    instances.push(km)
    const move = async (amount: number) => {
      await ka('accounts').where({ id: 1 }).decrement('balance', amount)
      await km.transaction(async (trx) => {
        await trx('accounts').where({ id: 2 }).increment('balance', amount)
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

test('Knex instances are destroyed', async () => {
  for (const instance of instances.splice(0)) await instance.destroy()
})
