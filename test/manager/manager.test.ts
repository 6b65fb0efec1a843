import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import pg from 'pg'
import { postgresUrls } from '../../harness/drivers.js'
import { Fixture, pgMarks, pgPrepared, xaRecover } from '../../harness/fixture.js'
import type { PostgresServer } from '../../harness/postgres-server.js'
import {
  startPostgres,
  stopTestServers,
  type TestServer,
  testMariadb,
} from '../../harness/test-databases.js'
import { waitFor } from '../../harness/wait-for.js'
import {
  type CommitOutcome,
  type Database,
  isConfigurationError,
  isOutcomeUnknownError,
  isTransactionStateError,
  type Logger,
  type TransactionManagerOptions,
} from '../../src/index.js'

const fixture = new Fixture()
let postgres: TestServer
let mariadb: TestServer | undefined

before(async () => {
  postgres = await startPostgres({ logStatements: true })
  mariadb = await testMariadb()
})
after(async () => {
  await fixture.close()
  await stopTestServers()
})

const pgMember = (name: string) => fixture.markedPg(postgres, name)

const marks = pgMarks

const manager = (options: TransactionManagerOptions) => fixture.manager(options)

/** A logger that keeps what it is told, to assert on. */
function recordingLogger(): Logger & { errors: string[] } {
  const errors: string[] = []
  return { errors, warn: () => {}, error: (_fields, message) => errors.push(message) }
}

describe('transaction manager', () => {
  test('code deep in the call stack joins the ambient transaction: PG, PG and MariaDB commit together', async (t) => {
    if (mariadb === undefined) return t.skip('no MariaDB')
    const a = await pgMember('a')
    const b = await pgMember('b')
    const m = await fixture.mysql(await mariadb.createDatabase(), 'm')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const txm = await manager({ decisionLog: a.db })
    // Three layers that know nothing of each other, only the manager.
    const writeOrder = async (id: string) =>
      (await txm.join('orders', a.db)).query('INSERT INTO marks VALUES ($1)', [id])
    const writeLedger = async (id: string) =>
      (await txm.join('ledger', b.db)).query('INSERT INTO marks VALUES ($1)', [id])
    const writeAudit = async (id: string) =>
      (await txm.join('audit', m.db)).query('INSERT INTO marks VALUES (?)', [id])
    const placeOrder = async (id: string) => {
      await writeOrder(id)
      await Promise.all([
        writeLedger(id),
        (async () => {
          await new Promise((resolve) => setImmediate(resolve))
          await writeAudit(id)
        })(),
      ])
    }
    const seen: string[] = []
    await txm.run(async (tx) => {
      await placeOrder('order-1')
      tx.beforeCommit(async () => {
        seen.push('before')
        // A before-commit hook may still add work and join.
        await (await txm.join('ledger', b.db)).query('INSERT INTO marks VALUES ($1)', ['from-hook'])
      })
      tx.afterCommit((outcome) => {
        seen.push(`after:${outcome}`)
      })
    })
    assert.deepEqual(seen, ['before', 'after:committed'])
    assert.deepEqual(await marks(a.pool), ['order-1'])
    assert.deepEqual(await marks(b.pool), ['from-hook', 'order-1'])
    const [rows] = await m.pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks')
    assert.deepEqual(
      rows.map((r) => r.tx),
      ['order-1'],
    )
    assert.deepEqual(
      [...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool)), ...(await xaRecover(m.pool))],
      [],
    )
  })

  test('two concurrent runs never see each other: one commits, the other aborts', async () => {
    const a = await pgMember('a')
    const txm = await manager({ decisionLog: a.db })
    let firstTx: unknown
    let secondTx: unknown
    let release: () => void = () => {}
    const bothInside = new Promise<void>((resolve) => (release = resolve))
    let inside = 0
    const enter = async () => {
      if (++inside === 2) release()
      await bothInside
    }
    const results = await Promise.allSettled([
      txm.run(async (tx) => {
        firstTx = tx
        await (await txm.join('a', a.db)).query(`INSERT INTO marks VALUES ('first')`)
        await enter()
        assert.equal(txm.current(), tx)
      }),
      txm.run(async (tx) => {
        secondTx = tx
        await (await txm.join('a', a.db)).query(`INSERT INTO marks VALUES ('second')`)
        await enter()
        assert.equal(txm.current(), tx)
        throw new Error('second fails')
      }),
    ])
    assert.notEqual(firstTx, secondTx)
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected'],
    )
    assert.deepEqual(await marks(a.pool), ['first'])
    assert.equal(txm.current(), undefined, 'nothing leaks out of run()')
  })

  test('one resource commits in one phase: no PREPARE reaches the server', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager({ decisionLog: a.db })
    const gtrid = await txm.run(async (tx) => {
      await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('alone')`)
      return tx.gtrid
    })
    assert.ok(gtrid)
    assert.deepEqual(await marks(b.pool), ['alone'])
    const log = (postgres.owned as PostgresServer).log()
    assert.match(log, /INSERT INTO marks VALUES \('alone'\)/, 'the server log records statements')
    assert.doesNotMatch(log, new RegExp(`PREPARE TRANSACTION '${gtrid.replace('.', '\\.')}`))
  })

  test('a before-commit hook that throws aborts everything; hooks are told so', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager({ decisionLog: a.db })
    const seen: string[] = []
    const failure = new Error('validation failed')
    await assert.rejects(
      txm.run(async (tx) => {
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('x')`)
        await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('x')`)
        tx.beforeCommit(() => {
          throw failure
        })
        tx.afterCommit((outcome) => {
          seen.push(`after-commit:${outcome}`)
        })
        tx.afterAbort(() => {
          seen.push('after-abort')
        })
      }),
      (error) => error === failure,
    )
    assert.deepEqual(seen, ['after-commit:aborted', 'after-abort'])
    assert.deepEqual(await marks(a.pool), [])
    assert.deepEqual(await marks(b.pool), [])
  })

  test('a throwing after-commit hook is logged, the others run, the result stands, the manager goes on', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const logger = recordingLogger()
    const txm = await manager({ decisionLog: a.db, logger })
    const outcomes: CommitOutcome[] = []
    const value = await txm.run(async (tx) => {
      await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('kept')`)
      await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('kept')`)
      tx.afterCommit(() => {
        throw new Error('email queue down')
      })
      tx.afterCommit((outcome) => {
        outcomes.push(outcome)
      })
      return 'done'
    })
    assert.equal(value, 'done')
    assert.deepEqual(outcomes, ['committed'])
    assert.equal(logger.errors.length, 1)
    assert.match(logger.errors[0] ?? '', /after-commit hook threw/)
    assert.deepEqual(await marks(b.pool), ['kept'])
    await txm.run(async (tx) => {
      await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('next')`)
    })
    assert.deepEqual(await marks(b.pool), ['kept', 'next'])
  })

  test('an outcome that cannot be known is told to after-commit hooks as unknown', async () => {
    const member = await pgMember('a')
    const a = await fixture.pgThroughProxy(member.url, 'a')
    const b = await pgMember('b')
    const txm = await manager({
      decisionLog: a.db,
      onStep: (event) => {
        // The decision's COMMIT reaches the server, its answer never comes back.
        if (event.step === 'decision' && event.when === 'before') a.proxy.cutAfter('COMMIT')
      },
    })
    const outcomes: CommitOutcome[] = []
    await assert.rejects(
      txm.run(async (tx) => {
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('u')`)
        await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('u')`)
        tx.afterCommit((outcome) => {
          outcomes.push(outcome)
        })
      }),
      isOutcomeUnknownError,
    )
    assert.deepEqual(outcomes, ['unknown'])
    for (const xid of await pgPrepared(b.pool)) await b.pool.query(`ROLLBACK PREPARED '${xid}'`)
  })

  test('NOTIFY reaches a listener only after the commit, and never after an abort', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const txm = await manager({ decisionLog: a.db })
    const listener = new pg.Client({ connectionString: a.url })
    await listener.connect()
    const received: string[] = []
    listener.on('notification', (message) => received.push(message.payload ?? ''))
    await listener.query('LISTEN "order events"')
    try {
      // PostgreSQL delivers notifications in the order their transactions committed. A barrier
      // notified on its own, once received, shows what had been committed before it: a negative
      // checked against an event, not after a guessed delay.
      let barriers = 0
      const barrier = async (): Promise<string> => {
        const payload = `barrier ${++barriers}`
        await a.pool.query(`SELECT pg_notify('order events', $1)`, [payload])
        await waitFor(payload, 10_000, async () => received.includes(payload))
        return payload
      }
      let beforeCommit: string[] = []
      await txm.run(async (tx) => {
        await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('n1')`)
        await (await tx.join('b', b.db)).query(`INSERT INTO marks VALUES ('n1')`)
        tx.notify(a.db, 'order events', 'order n1 placed')
        tx.beforeCommit(async () => {
          await barrier()
          beforeCommit = [...received]
        })
      })
      assert.deepEqual(beforeCommit, ['barrier 1'], 'nothing before the commit')
      await waitFor('the committed notification', 10_000, async () => received.length === 2)
      assert.deepEqual(received, ['barrier 1', 'order n1 placed'])
      await txm
        .run(async (tx) => {
          await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('n2')`)
          tx.notify(a.db, 'order events', 'order n2 placed')
          throw new Error('abort')
        })
        .catch(() => {})
      await barrier()
      assert.deepEqual(
        received,
        ['barrier 1', 'order n1 placed', 'barrier 2'],
        'nothing after an abort',
      )
      const my = mariadb ? await fixture.mysql(await mariadb.createDatabase(), 'my') : undefined
      if (my) {
        await txm.run(async (tx) => {
          assert.throws(
            () => tx.notify(my.db as Database, 'x'),
            (e: unknown) => isConfigurationError(e) && /has no NOTIFY/.test(e.message),
          )
        })
      }
    } finally {
      await listener.end()
    }
  })

  test('a connection string joined twice is one connection, closed after commit and after abort', async () => {
    const a = await pgMember('a')
    const b = await pgMember('b')
    const bare = await manager({ decisionLog: a.db })
    await bare.run(async (tx) => {
      await assert.rejects(
        tx.connect(b.url),
        (e: unknown) => isConfigurationError(e) && /pass urlDrivers/.test(e.message),
      )
    })
    const txm = await manager({ decisionLog: a.db, urlDrivers: [postgresUrls] })
    const app = `txkit_url_${Math.random().toString(36).slice(2, 8)}`
    const url = new URL(b.url)
    url.searchParams.set('application_name', app)
    const connections = async () =>
      Number(
        (
          await a.pool.query(
            'SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1',
            [app],
          )
        ).rows[0]?.n,
      )
    for (const end of ['commit', 'abort'] as const) {
      await txm
        .run(async (tx) => {
          const first = await tx.connect(url.toString())
          const second = await tx.connect(url.toString())
          assert.equal(first, second)
          assert.deepEqual(
            first.names,
            [b.url.split('/').pop()],
            'named after the database in the URL',
          )
          const [p1] = await first.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
          const [p2] = await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
          assert.equal(p1?.pid, p2?.pid)
          assert.equal(await connections(), 1)
          await first.query('INSERT INTO marks VALUES ($1)', [end])
          await (await tx.join('a', a.db)).query('INSERT INTO marks VALUES ($1)', [end])
          if (end === 'abort') throw new Error('abort')
        })
        .catch((error: Error) => assert.equal(error.message, 'abort'))
      // The client side is closed when the transaction ends; the server drops the backend a moment
      // later (longer on a loaded machine): awaited within a generous bound.
      await waitFor(
        `the connection closed after ${end}`,
        10_000,
        async () => (await connections()) === 0,
      )
    }
    assert.deepEqual(await marks(b.pool), ['commit'])
    await txm.run(async (tx) => {
      await assert.rejects(
        tx.connect('not a url'),
        (e: unknown) =>
          isConfigurationError(e) && /names no database|not a connection URL/.test(e.message),
      )
      await assert.rejects(
        tx.connect('ftp://u:SECRET@h/db'),
        (e: unknown) => isConfigurationError(e) && !e.message.includes('SECRET'),
      )
    })
  })

  test('a doomed transaction can only abort', async () => {
    const a = await pgMember('a')
    const txm = await manager({ decisionLog: a.db })
    const seen: string[] = []
    const value = await txm.run(async (tx) => {
      await (await tx.join('a', a.db)).query(`INSERT INTO marks VALUES ('doomed')`)
      tx.doom()
      tx.afterAbort(() => {
        seen.push('aborted')
      })
      await assert.rejects(
        tx.commit(),
        (e: unknown) => isTransactionStateError(e) && /doomed/.test(e.message),
      )
      return 'returned'
    })
    assert.equal(value, 'returned', 'run() aborts a doomed transaction without an error')
    assert.deepEqual(seen, ['aborted'])
    assert.deepEqual(await marks(a.pool), [])
  })

  test('explicit mode: no transaction was begun is an error; implicit mode begins one', async () => {
    const a = await pgMember('a')
    const explicit = await manager({ decisionLog: a.db, explicit: true })
    assert.throws(
      () => explicit.get(),
      (e: unknown) => isTransactionStateError(e) && /explicit mode/.test(e.message),
    )
    await assert.rejects(explicit.join('a', a.db), isTransactionStateError)
    const implicit = await manager({ decisionLog: a.db })
    await (async () => {
      await (await implicit.join('a', a.db)).query(`INSERT INTO marks VALUES ('implicit')`)
      assert.ok(implicit.current())
      await implicit.commit()
    })()
    assert.deepEqual(await marks(a.pool), ['implicit'])
    await (async () => {
      const tx = explicit.begin()
      assert.equal(explicit.get(), tx)
      await (await explicit.join('a', a.db)).query(`INSERT INTO marks VALUES ('explicit')`)
      await explicit.abort()
    })()
    assert.deepEqual(await marks(a.pool), ['implicit'])
  })
})
