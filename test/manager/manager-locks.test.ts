import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import type pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks } from '../../harness/fixture.js'
import {
  isLockReentryError,
  isLockTimeoutError,
  lockIdentifier,
  type TransactionManager,
} from '../../src/index.js'
import { sleep } from '../../src/util/sleep.js'

const servers = serversForFile()
const { fixture } = servers

async function pgHeld(pool: pg.Pool, key: string): Promise<boolean> {
  const { rows } = await pool.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND ((classid::bigint << 32) | objid::bigint) = $1::bigint",
    [lockIdentifier(key, { kind: 'int64' }).toString()],
  )
  return (rows[0]?.n ?? 0) > 0
}

async function mariadbHeld(pool: mysql.Pool, key: string): Promise<boolean> {
  const [rows] = await pool.query('SELECT IS_USED_LOCK(?) AS holder', [key])
  return (rows as Array<{ holder: number | null }>)[0]?.holder !== null
}

async function twoPgDatabases() {
  const a = await fixture.markedPg(servers.postgres, 'a')
  const b = await fixture.markedPg(servers.postgres, 'b')
  const manager = await fixture.manager({ decisionLog: a.db })
  return { a, b, manager }
}

describe('transaction locks (tx.lock)', () => {
  test('PostgreSQL: held by the transaction (and its prepared branch), released by COMMIT or ROLLBACK', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    const b = await fixture.markedPg(servers.postgres, 'b')
    let heldWhilePrepared: boolean | undefined
    const manager = await fixture.manager({
      decisionLog: a.db,
      // b's branch is prepared (its transaction over, its session idle) when the decision is taken.
      onStep: async ({ step, when }) => {
        if (step === 'decision' && when === 'before') {
          heldWhilePrepared = await pgHeld(b.pool, 'order:1')
        }
      },
    })
    await manager.run(async (tx) => {
      const lock = await tx.lock(b.db, 'order:1')
      assert.equal(lock.locked, true)
      assert.equal(await pgHeld(b.pool, 'order:1'), true)
      await (await tx.join('a', a.db)).query("INSERT INTO marks VALUES ('committed')")
      await (await tx.join('b', b.db)).query("INSERT INTO marks VALUES ('committed')")
    })
    assert.equal(heldWhilePrepared, true, 'the prepared branch holds the lock')
    assert.equal(await pgHeld(b.pool, 'order:1'), false)
    assert.deepEqual(await pgMarks(a.pool), ['committed'])
    assert.deepEqual(await pgMarks(b.pool), ['committed'])
    await assert.rejects(
      manager.run(async (tx) => {
        await tx.lock(a.db, 'order:1')
        await (await tx.join('a', a.db)).query("INSERT INTO marks VALUES ('aborted')")
        assert.equal(await pgHeld(a.pool, 'order:1'), true)
        throw new Error('abort')
      }),
      /abort/,
    )
    assert.equal(await pgHeld(a.pool, 'order:1'), false)
    assert.deepEqual(await pgMarks(a.pool), ['committed'])
  })

  test('PostgreSQL: a timed-out lock leaves the transaction usable and lock_timeout as it was', async () => {
    const { a, manager } = await twoPgDatabases()
    const holder = await a.pool.connect()
    try {
      await holder.query('SELECT pg_advisory_lock($1::bigint)', [
        lockIdentifier('busy', { kind: 'int64' }).toString(),
      ])
      await manager.run(async (tx) => {
        const branch = await tx.join('a', a.db)
        await branch.query("INSERT INTO marks VALUES ('before')")
        const started = performance.now()
        await assert.rejects(tx.lock(a.db, 'busy', { timeout: 150 }), (e: unknown) =>
          isLockTimeoutError(e),
        )
        assert.ok(performance.now() - started >= 140)
        await tx.lock(a.db, 'free', { timeout: 150 })
        const [setting] = await branch.query<{ lock_timeout: string }>('SHOW lock_timeout')
        assert.equal(setting?.lock_timeout, '0', 'the wait bound did not outlive the wait')
        await branch.query("INSERT INTO marks VALUES ('after')")
      })
    } finally {
      holder.release(true)
    }
    assert.deepEqual(await pgMarks(a.pool), ['after', 'before'])
  })

  test('PostgreSQL: concurrent transactions serialised by tx.lock lose no update', async () => {
    const { a, manager } = await twoPgDatabases()
    await a.pool.query('CREATE TABLE counter (n int NOT NULL)')
    await a.pool.query('INSERT INTO counter VALUES (0)')
    await Promise.all(
      Array.from({ length: 6 }, () =>
        manager.run(async (tx) => {
          await tx.lock(a.db, 'counter')
          const branch = await tx.join('a', a.db)
          const [row] = await branch.query<{ n: number }>('SELECT n FROM counter')
          await sleep(5)
          await branch.query('UPDATE counter SET n = $1', [Number(row?.n) + 1])
        }),
      ),
    )
    const { rows } = await a.pool.query('SELECT n FROM counter')
    assert.equal(rows[0].n, 6)
  })

  test('MariaDB: released right after COMMIT or ROLLBACK (no transaction-scoped lock there)', async (t) => {
    if (servers.mariadb === undefined) return t.skip('no MariaDB')
    const { a, manager } = await twoPgDatabases()
    const m = await fixture.mysql(await servers.mariadb.createDatabase(), 'm')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    let heldAfterCommit: boolean | undefined
    await manager.run(async (tx) => {
      await tx.lock(m.db, 'ledger:7')
      assert.equal(await mariadbHeld(m.pool, 'ledger:7'), true)
      await (await tx.join('m', m.db)).query("INSERT INTO marks VALUES ('committed')")
      await (await tx.join('a', a.db)).query("INSERT INTO marks VALUES ('committed')")
      tx.afterCommit(async () => {
        heldAfterCommit = await mariadbHeld(m.pool, 'ledger:7')
      })
    })
    assert.equal(heldAfterCommit, false, 'released before the after-commit hooks')
    assert.equal(await mariadbHeld(m.pool, 'ledger:7'), false)
    await assert.rejects(
      manager.run(async (tx) => {
        await tx.lock(m.db, 'ledger:7')
        throw new Error('abort')
      }),
      /abort/,
    )
    assert.equal(await mariadbHeld(m.pool, 'ledger:7'), false)
  })

  test('re-entry in one transaction is refused on PostgreSQL and MariaDB alike', async (t) => {
    const { a, manager } = await twoPgDatabases()
    const databases: Array<Parameters<TransactionManager['run']>[0]> = [
      async (tx) => {
        await tx.lock(a.db, 'twice')
        await assert.rejects(tx.lock(a.db, 'twice'), (e: unknown) => isLockReentryError(e))
      },
    ]
    if (servers.mariadb !== undefined) {
      const m = await fixture.mysql(await servers.mariadb.createDatabase(), 'm')
      databases.push(async (tx) => {
        await tx.lock(m.db, 'twice')
        await assert.rejects(tx.lock(m.db, 'twice'), (e: unknown) => isLockReentryError(e))
      })
    } else {
      t.diagnostic('no MariaDB: PostgreSQL only')
    }
    for (const work of databases) await manager.run(work)
  })
})
