/**
 * Kysely on txkit transactions (`txkit/kysely`): one application-wide Kysely per database, used as
 * Kysely's docs show, inside and outside `manager.run`. Asserts on rows in the databases.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { Kysely, MysqlDialect, PostgresDialect, sql } from 'kysely'
import { createPool } from 'mysql2'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../../harness/fixture.js'
import { assertSecondKept, overlappingSiblings } from '../../harness/siblings.js'
import {
  balances,
  entryIds as entries,
  outboxBodies,
  TOOL_OUTBOX,
  toolBank,
} from '../../harness/tool-bank.js'
import {
  createOutboxTables,
  type Database,
  isConcurrentSavepointError,
  isConfigurationError,
  isTransactionControlRefusedError,
  isTransactionStateError,
  type TransactionManager,
  type TransactionManagerOptions,
} from '../../src/index.js'
import { txkitDialect, txkitRecords } from '../../src/kysely/kysely.js'

const servers = serversForFile()
const { fixture } = servers

interface Schema {
  accounts: { id: number; balance: number }
  entries: { id: string; account_id: number; amount: number }
}

const bank = (name: string) =>
  toolBank(servers, name, 'id text PRIMARY KEY, account_id int, amount int')

function kyselyOn(
  pool: pg.Pool,
  database: Database,
  manager: TransactionManager,
  explicit = false,
): Kysely<Schema> {
  const db = new Kysely<Schema>({
    dialect: txkitDialect({
      dialect: new PostgresDialect({ pool }),
      database,
      manager,
      ...(explicit && { explicit }),
    }),
    plugins: [txkitRecords(manager)],
  })
  // Not destroyed: Kysely would end the pool, which the fixture ends.
  return db
}

/** Two banks, a manager whose decision log is the first, and a Kysely per bank. */
async function twoBanks(options: Partial<TransactionManagerOptions> = {}) {
  const a = await bank('a')
  const b = await bank('b')
  const manager = await fixture.manager({ decisionLog: a.db, ...options })
  return { a, b, manager, ka: kyselyOn(a.pool, a.db, manager), kb: kyselyOn(b.pool, b.db, manager) }
}

/** Moves `amount` from account 1 of `from` to account 2 of `to`, through Kysely only. */
async function transfer(from: Kysely<Schema>, to: Kysely<Schema>, amount: number, id: string) {
  await from
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '-', amount) }))
    .where('id', '=', 1)
    .execute()
  await to
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', amount) }))
    .where('id', '=', 2)
    .execute()
  await from.insertInto('entries').values({ id, account_id: 1, amount: -amount }).execute()
}

describe('Kysely on txkit transactions (PostgreSQL + PostgreSQL)', () => {
  test('a transfer written through Kysely commits in both databases; a throw leaves nothing anywhere', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    await manager.run(() => transfer(ka, kb, 10, 't1'))
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    assert.deepEqual(await entries(a.pool), ['t1'])
    const thrown = await manager
      .run(async () => {
        await transfer(ka, kb, 5, 't2')
        throw new Error('changed my mind')
      })
      .catch((error: unknown) => error)
    assert.equal((thrown as Error).message, 'changed my mind')
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    assert.deepEqual(await entries(a.pool), ['t1'])
    assert.deepEqual(await pgPrepared(a.pool), [])
    assert.deepEqual(await pgPrepared(b.pool), [])
  })

  test('Kysely’s own transaction inside is a savepoint: a failing one undoes only its work', async () => {
    const { a, b, manager, ka, kb } = await twoBanks({ outbox: TOOL_OUTBOX })
    await createOutboxTables(a.db)
    await manager.run(async () => {
      await transfer(ka, kb, 10, 'outer')
      manager.outbox.send('events', 'outer')
      const inner = await ka
        .transaction()
        .execute(async (trx) => {
          await trx
            .insertInto('entries')
            .values({ id: 'inner-failed', account_id: 1, amount: 1 })
            .execute()
          manager.outbox.send('events', 'inner-failed')
          throw new Error('inner failure')
        })
        .catch((error: unknown) => error)
      assert.equal((inner as Error).message, 'inner failure')
      // Kysely's controlled transaction and its named savepoints work the same way.
      const trx = await ka.startTransaction().execute()
      await trx
        .insertInto('entries')
        .values({ id: 'inner-kept', account_id: 1, amount: 2 })
        .execute()
      manager.outbox.send('events', 'inner-kept')
      const nested = await trx.savepoint('nested').execute()
      await nested
        .insertInto('entries')
        .values({ id: 'nested-undone', account_id: 1, amount: 3 })
        .execute()
      manager.outbox.send('events', 'nested-undone')
      await nested.rollbackToSavepoint('nested').execute()
      await trx.commit().execute()
    })
    assert.deepEqual(await entries(a.pool), ['inner-kept', 'outer'])
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await balances(b.pool), [100, 10])
    assert.deepEqual(await outboxBodies(a.pool), ['outer', 'inner-kept'])
  })

  test('isolation levels and access modes cannot apply to a running branch: refused', async () => {
    const { a, manager, ka } = await twoBanks()
    const refused = await manager
      .run(async () => {
        await ka.insertInto('entries').values({ id: 'before', account_id: 1, amount: 1 }).execute()
        await ka
          .transaction()
          .setIsolationLevel('serializable')
          .execute(async (trx) => {
            await trx
              .insertInto('entries')
              .values({ id: 'never', account_id: 1, amount: 1 })
              .execute()
          })
      })
      .catch((error: unknown) => error)
    assert.ok(isConfigurationError(refused), String(refused))
    assert.match(refused.message, /setIsolationLevel\('serializable'\) cannot apply/)
    assert.deepEqual(await entries(a.pool), [], 'the whole txkit transaction rolled back')
  })

  test('transaction control sent through Kysely inside is refused; nothing is split', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    const refused = await manager
      .run(async () => {
        await transfer(ka, kb, 10, 'stray')
        await sql`COMMIT`.execute(ka)
      })
      .catch((error: unknown) => error)
    assert.ok(isTransactionControlRefusedError(refused), String(refused))
    assert.deepEqual(await balances(a.pool), [100, 0])
    assert.deepEqual(await balances(b.pool), [100, 0])
  })

  test('outside any transaction Kysely uses the pool as usual; explicit mode refuses', async () => {
    const { a, manager, ka } = await twoBanks()
    await ka.insertInto('entries').values({ id: 'autocommit', account_id: 1, amount: 1 }).execute()
    await ka.transaction().execute(async (trx) => {
      await trx
        .insertInto('entries')
        .values({ id: 'own-transaction', account_id: 1, amount: 1 })
        .execute()
    })
    assert.deepEqual(await entries(a.pool), ['autocommit', 'own-transaction'])
    const strict = kyselyOn(a.pool, a.db, manager, true)
    await assert.rejects(
      strict.insertInto('entries').values({ id: 'refused', account_id: 1, amount: 1 }).execute(),
      (error: unknown) => isTransactionStateError(error) && /explicit: true/.test(error.message),
    )
    await manager.run(() =>
      strict.insertInto('entries').values({ id: 'inside', account_id: 1, amount: 1 }).execute(),
    )
    assert.deepEqual(await entries(a.pool), ['autocommit', 'inside', 'own-transaction'])
  })

  test('two concurrent transactions through the same Kysely objects never see each other', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    let release: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const first = manager.run(async () => {
      await ka.insertInto('entries').values({ id: 'first', account_id: 1, amount: 1 }).execute()
      await gate
      // Not visible to the second transaction, which is still open.
      await kb.updateTable('accounts').set({ balance: 7 }).where('id', '=', 2).execute()
    })
    const second = manager
      .run(async () => {
        const seen = await ka.selectFrom('entries').select('id').execute()
        assert.deepEqual(seen, [], 'the first transaction’s row is not committed')
        await ka.insertInto('entries').values({ id: 'second', account_id: 1, amount: 1 }).execute()
        release()
        throw new Error('second fails')
      })
      .catch((error: unknown) => error)
    await first
    assert.equal(((await second) as Error).message, 'second fails')
    assert.deepEqual(await entries(a.pool), ['first'])
    assert.deepEqual(await balances(b.pool), [100, 7])
  })

  test('record hooks are fed from Kysely’s writes with the rows written, and dropped on an inner rollback', async () => {
    const { a, manager, ka, kb } = await twoBanks()
    const seen: Array<[string, unknown]> = []
    manager.onRecord('entries', {
      afterInsert: (row) => {
        seen.push(['insert', row])
      },
    })
    manager.onRecord('accounts', {
      afterUpdate: (row) => {
        seen.push(['update', row])
      },
    })
    await manager.run(async () => {
      await transfer(ka, kb, 10, 'hooked')
      await ka
        .transaction()
        .execute(async (trx) => {
          await trx
            .insertInto('entries')
            .values({ id: 'undone', account_id: 1, amount: 5 })
            .execute()
          throw new Error('inner')
        })
        .catch(() => undefined)
      // Asking for rows still answers the rows asked for.
      const returned = await ka
        .insertInto('entries')
        .values({ id: 'returned', account_id: 2, amount: 1 })
        .returning('id')
        .execute()
      assert.deepEqual(returned, [{ id: 'returned' }])
    })
    const byKind = (kind: string) =>
      seen
        .filter(([k]) => k === kind)
        .map(([, row]) => JSON.stringify(row))
        .sort()
    // Each row as written (RETURNING * added where Kysely asked for none); the undone insert is gone.
    assert.deepEqual(byKind('insert'), [
      JSON.stringify({ id: 'hooked', account_id: 1, amount: -10 }),
      JSON.stringify({ id: 'returned' }),
    ])
    assert.deepEqual(byKind('update'), [
      JSON.stringify({ id: 1, balance: 90 }),
      JSON.stringify({ id: 2, balance: 10 }),
    ])
    assert.deepEqual(await entries(a.pool), ['hooked', 'returned'])
  })
})

describe('Kysely transactions of concurrent async flows in one txkit transaction', () => {
  test('a sibling that begins while the first is open runs after it: its committed row is kept when the first rolls back', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    const outcome = await manager.run(async () => {
      await kb.updateTable('accounts').set({ balance: 1 }).where('id', '=', 1).execute()
      return overlappingSiblings((work) =>
        ka
          .transaction()
          .execute((trx) =>
            work((id) =>
              trx.insertInto('entries').values({ id, account_id: 1, amount: 1 }).execute(),
            ),
          ),
      )
    })
    assertSecondKept(outcome, await entries(a.pool))
    assert.deepEqual(await balances(b.pool), [1, 0])
    assert.deepEqual(await pgPrepared(a.pool), [])
  })

  test("a statement from a sibling flow waits while tx.savepoint(work) is open: it is not undone by that savepoint's rollback", async () => {
    const { a, manager, ka } = await twoBanks()
    let siblings = 0
    const outcome = await manager.run((tx) =>
      overlappingSiblings(async (work) => {
        // The first sibling's work in a callback-form savepoint; the second's is a plain insert.
        const write = (id: string) =>
          ka.insertInto('entries').values({ id, account_id: 1, amount: 1 }).execute()
        return siblings++ === 0 ? tx.savepoint(() => work(write)) : work(write)
      }),
    )
    assertSecondKept(outcome, await entries(a.pool))
  })

  test('a transaction begun through db inside a transaction callback cannot have its turn: a ConcurrentSavepointError within the bound, the rest commits', async () => {
    const a = await bank('a')
    const manager = await fixture.manager({ decisionLog: a.db, siblingWaitTimeout: 300 })
    const ka = kyselyOn(a.pool, a.db, manager)
    const inner = await manager.run(async () => {
      let error: unknown
      await ka.transaction().execute(async (trx) => {
        await trx.insertInto('entries').values({ id: 'outer', account_id: 1, amount: 1 }).execute()
        // The mistake: `ka`, not `trx`. It waits for the outer one, which waits for it.
        error = await ka
          .transaction()
          .execute((wrong) =>
            wrong.insertInto('entries').values({ id: 'inner', account_id: 1, amount: 1 }).execute(),
          )
          .catch((caught: unknown) => caught)
      })
      return error
    })
    assert.ok(isConcurrentSavepointError(inner), String(inner))
    assert.equal(inner.reason, 'timeout')
    assert.match(inner.message, /waited 300 ms for a Kysely transaction to end/)
    assert.deepEqual(await entries(a.pool), ['outer'])
  })

  test('a write through db inside a transaction callback that then rolls back: the txkit transaction refuses to commit, nothing is committed', async () => {
    const { a, b, manager, ka, kb } = await twoBanks()
    const refused = await manager
      .run(async () => {
        await kb.updateTable('accounts').set({ balance: 7 }).where('id', '=', 1).execute()
        await ka
          .transaction()
          .execute(async (trx) => {
            await trx
              .insertInto('entries')
              .values({ id: 'inner', account_id: 1, amount: 1 })
              .execute()
            await ka
              .insertInto('entries')
              .values({ id: 'outside', account_id: 1, amount: 1 })
              .execute()
            throw new Error('inner fails')
          })
          .catch(() => undefined)
      })
      .catch((error: unknown) => error)
    assert.ok(isTransactionStateError(refused), String(refused))
    assert.match(refused.message, /undid 1 write\(s\) that reached it from outside it/)
    assert.deepEqual(await entries(a.pool), [])
    assert.deepEqual(await balances(b.pool), [100, 0])
    assert.deepEqual(await pgPrepared(a.pool), [])
  })
})

describe('a Kysely query of a flow that outlived its txkit transaction', () => {
  test('is refused, not sent to the pool to commit on its own; after-commit hooks still use the pool', async () => {
    const { a, manager, ka } = await twoBanks()
    let open = (): void => undefined
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    let straggler: Promise<unknown> | undefined
    const failed = await manager
      .run(async () => {
        await ka.insertInto('entries').values({ id: 'in', account_id: 1, amount: 1 }).execute()
        straggler = gate.then(() =>
          ka.insertInto('entries').values({ id: 'late', account_id: 1, amount: 1 }).execute(),
        )
        throw new Error('a sibling fails')
      })
      .catch((error: unknown) => error)
    assert.equal((failed as Error).message, 'a sibling fails')
    open()
    const late = await (straggler as Promise<unknown>).catch((error: unknown) => error)
    assert.ok(isTransactionStateError(late), String(late))
    assert.match(late.message, /has ended \(aborted\), so it is not sent/)
    assert.deepEqual(await entries(a.pool), [])
    await manager.run(async (tx) => {
      await ka.insertInto('entries').values({ id: 'done', account_id: 1, amount: 1 }).execute()
      tx.afterCommit(async () => {
        await ka.insertInto('entries').values({ id: 'hook', account_id: 1, amount: 1 }).execute()
      })
    })
    assert.deepEqual(await entries(a.pool), ['done', 'hook'])
  })
})

describe('Kysely on txkit transactions (PostgreSQL + MariaDB)', () => {
  test('a transfer through a PostgreSQL and a MySQL-dialect Kysely: committed, then a throw leaves nothing', async (t) => {
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB')
    const a = await bank('a')
    const url = await mariadb.createDatabase()
    const m = await fixture.mysql(url, 'm')
    await m.pool.query(
      'CREATE TABLE accounts (id int PRIMARY KEY, balance int NOT NULL) ENGINE=InnoDB',
    )
    await m.pool.query('INSERT INTO accounts VALUES (1, 100), (2, 0)')
    await m.pool.query(
      'CREATE TABLE entries (id varchar(64) PRIMARY KEY, account_id int, amount int) ENGINE=InnoDB',
    )
    const manager = await fixture.manager({ decisionLog: a.db })
    const ka = kyselyOn(a.pool, a.db, manager)
    const callbackPool = createPool({ uri: url, connectionLimit: 4 })
    const km = new Kysely<Schema>({
      dialect: txkitDialect({
        dialect: new MysqlDialect({ pool: callbackPool }),
        database: m.db,
        manager,
      }),
    })
    t.after(() => km.destroy())
    await manager.run(() => transfer(ka, km, 10, 'pm1'))
    const thrown = await manager
      .run(async () => {
        await transfer(km, ka, 50, 'pm2')
        throw new Error('no')
      })
      .catch((error: unknown) => error)
    assert.equal((thrown as Error).message, 'no')
    assert.deepEqual(await balances(a.pool), [90, 0])
    assert.deepEqual(await entries(a.pool), ['pm1'])
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>(
      'SELECT balance FROM accounts ORDER BY id',
    )
    assert.deepEqual(
      rows.map((row) => row.balance),
      [100, 10],
    )
    const [mine] = await m.pool.query<mysql.RowDataPacket[]>('SELECT id FROM entries')
    assert.deepEqual(mine, [])
    assert.deepEqual(await pgPrepared(a.pool), [])
    assert.deepEqual(await xaRecover(m.pool), [])
  })
})
