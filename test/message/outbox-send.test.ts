/**
 * `tx.outbox.send(…)`: messages written in the transaction's atomic commit, on PostgreSQL and
 * MariaDB, through the coordinator and the manager; refused input; savepoints; per-key order.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type mysql from 'mysql2/promise'
import pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { pgMarks, pgPrepared } from '../../harness/fixture.js'
import {
  createOutboxTables,
  isConcurrentSavepointError,
  isConfigurationError,
  isMessageRefusedError,
  isTransactionRolledBackError,
  isTransactionStateError,
  type OutboxOptions,
  type ProtocolStepEvent,
} from '../../src/index.js'

const servers = serversForFile()
const { fixture } = servers

const outbox: OutboxOptions = {
  destinations: {
    'order-events': { broker: 'rabbitmq' },
    small: { broker: 'nats', maxMessageBytes: 100 },
  },
}

interface OutboxRowRead {
  id: string
  destination: string
  message_key: string | null
  key_seq: string | null
  headers: string
  body: Buffer
  content_type: string
  gtrid: string
  state: string
}

async function twoPostgres() {
  const [urlA, urlB] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
  const a = fixture.pg(urlA ?? '', 'a')
  const b = fixture.pg(urlB ?? '', 'b')
  for (const { pool } of [a, b]) await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  await createOutboxTables(a.db)
  await createOutboxTables(b.db)
  return { a, b }
}

function urlOf(pool: pg.Pool): string {
  return (pool.options as { connectionString: string }).connectionString
}

async function rows(pool: pg.Pool): Promise<OutboxRowRead[]> {
  const { rows } = await pool.query<OutboxRowRead>('SELECT * FROM txkit_outbox ORDER BY position')
  return rows
}

describe('outbox on PostgreSQL', () => {
  test('a committed transaction writes its messages with the decision; a rolled back one writes none', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    const id = await coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
      await branches.a.query("INSERT INTO marks VALUES ('one')")
      await branches.b.query("INSERT INTO marks VALUES ('one')")
      return tx.outbox.send('order-events', { order: 1, note: 'ünïcode' }, { key: 'o-1' })
    })
    const written = await rows(a.pool)
    assert.equal(written.length, 1)
    assert.equal(written[0]?.id, id)
    assert.equal(written[0]?.message_key, 'o-1')
    assert.equal(written[0]?.key_seq, null, 'PostgreSQL orders a key by position')
    assert.equal(written[0]?.content_type, 'application/json')
    assert.deepEqual(JSON.parse(written[0]?.body.toString('utf8') ?? ''), {
      order: 1,
      note: 'ünïcode',
    })
    assert.equal((await rows(b.pool)).length, 0, 'written on the decision database only')

    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        await branches.a.query("INSERT INTO marks VALUES ('two')")
        tx.outbox.send('order-events', { order: 2 })
        throw new Error('changed my mind')
      }),
      /changed my mind/,
    )
    assert.equal((await rows(a.pool)).length, 1, 'nothing of the rolled back transaction')
  })

  test('the commit wakes listening relays once it is done, a rollback does not', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    const listener = new pg.Client({ connectionString: urlOf(a.pool) })
    await listener.connect()
    const heard: string[] = []
    listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`))
    await listener.query('LISTEN "txkit_outbox"')
    try {
      let gtrid = ''
      await coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        gtrid = tx.gtrid
        await branches.b.query("INSERT INTO marks VALUES ('n')")
        tx.outbox.send('order-events', 'hello')
      })
      await assert.rejects(
        coordinator.transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
          tx.outbox.send('order-events', 'never')
          throw new Error('no')
        }),
      )
      for (let i = 0; i < 50 && heard.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.deepEqual(heard, [`txkit_outbox:${gtrid}`])
    } finally {
      await listener.end()
    }
  })

  test('without the decision database the messages go in a prepared branch, and relays are woken after its commit', async () => {
    const { a, b } = await twoPostgres()
    const logUrl = await servers.postgres.createDatabase()
    const log = fixture.pg(logUrl, 'log')
    const coordinator = fixture.coordinator({ decisionLog: log.db, outbox })
    await coordinator.createDecisionLog()
    const listener = new pg.Client({ connectionString: urlOf(a.pool) })
    await listener.connect()
    const heard: string[] = []
    listener.on('notification', (n) => heard.push(n.payload ?? ''))
    await listener.query('LISTEN "txkit_outbox"')
    try {
      let gtrid = ''
      await coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        gtrid = tx.gtrid
        await branches.b.query("INSERT INTO marks VALUES ('p')")
        tx.outbox.send('order-events', { n: 1 })
        tx.outbox.send('order-events', { n: 2 })
      })
      assert.deepEqual(
        (await rows(a.pool)).map((row) => JSON.parse(row.body.toString())),
        [{ n: 1 }, { n: 2 }],
        'in the first database, in send order',
      )
      assert.deepEqual(await pgPrepared(a.pool), [])
      for (let i = 0; i < 50 && heard.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.deepEqual(heard, [gtrid])
    } finally {
      await listener.end()
    }
  })

  test('a transaction of one database commits its messages in one phase', async () => {
    const { a } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    await coordinator.transaction({ a: a.db }, async (branches, tx) => {
      await branches.a.query("INSERT INTO marks VALUES ('solo')")
      tx.outbox.send('order-events', new Uint8Array([0, 1, 2, 255]))
    })
    const [row] = await rows(a.pool)
    assert.equal(row?.content_type, 'application/octet-stream')
    assert.deepEqual([...(row?.body ?? [])], [0, 1, 2, 255])
  })

  test('parallel protocol and acknowledgement at the decision carry the messages too', async () => {
    const { a, b } = await twoPostgres()
    const parallel = fixture.coordinator({ decisionLog: a.db, protocol: 'parallel', outbox })
    await parallel.createDecisionLog()
    for (const db of [a.db, b.db]) await parallel.createFenceTable(db)
    await parallel.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
      await branches.b.query("INSERT INTO marks VALUES ('par')")
      tx.outbox.send('order-events', 'parallel')
    })
    const early = fixture.coordinator({ decisionLog: a.db, acknowledge: 'decision', outbox })
    const tx = await early.begin({ a: a.db, b: b.db })
    await tx.branches.b.query("INSERT INTO marks VALUES ('ack')")
    tx.outbox.send('order-events', 'acknowledged')
    const result = await tx.commit()
    await result.completion
    const bodies = (await rows(a.pool)).map((row) => row.body.toString())
    assert.deepEqual(bodies, ['"parallel"', '"acknowledged"'])
    assert.deepEqual(await pgMarks(b.pool), ['ack', 'par'])
  })

  test('decisions kept by the participants: the messages go where the decision does', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionDatabases: [a.db, b.db], outbox })
    await coordinator.createDecisionLog()
    for (let i = 0; i < 6; i++) {
      await coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        await branches.a.query('INSERT INTO marks VALUES ($1)', [`d${i}`])
        tx.outbox.send('order-events', { i, holder: tx.gtrid.split('.')[2] })
      })
    }
    const all = [...(await rows(a.pool)), ...(await rows(b.pool))]
    assert.equal(all.length, 6)
    for (const row of await rows(a.pool)) assert.equal(JSON.parse(row.body.toString()).holder, 'a')
    for (const row of await rows(b.pool)) assert.equal(JSON.parse(row.body.toString()).holder, 'b')
  })

  test('an outbox database of its own: every message goes there; a transaction without it is refused at the send', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({
      decisionLog: a.db,
      outbox: { ...outbox, database: b.db },
    })
    await coordinator.createDecisionLog()
    await coordinator.transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
      tx.outbox.send('order-events', 'to b')
    })
    assert.equal((await rows(b.pool)).length, 1)
    assert.equal((await rows(a.pool)).length, 0)
    await assert.rejects(
      coordinator.transaction({ a: a.db }, async (branches, tx) => {
        await branches.a.query("INSERT INTO marks VALUES ('x')")
        tx.outbox.send('order-events', 'nowhere')
      }),
      (error: unknown) =>
        isConfigurationError(error) &&
        /"b", which this transaction does not write/.test(String(error)),
    )
    assert.deepEqual(await pgMarks(a.pool), [], 'the transaction was rolled back')
  })

  test('bad input is refused at the send, with the reason; the transaction rolls back whole', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    const cycle: Record<string, unknown> = {}
    cycle.self = cycle
    const cases: Array<
      [string, (send: (d: string, p: unknown, o?: object) => string) => void, string]
    > = [
      ['payload', (send) => send('order-events', { total: Number.NaN }), 'NaN'],
      ['payload', (send) => send('order-events', { big: 1n }), 'bigint'],
      ['payload', (send) => send('order-events', cycle), 'serialize'],
      ['payload', (send) => send('order-events', undefined), 'undefined'],
      ['payload', (send) => send('order-events', { m: new Map() }), 'Map'],
      [
        'destination',
        (send) => send('order-evnets', {}),
        'Unknown message destination "order-evnets"',
      ],
      ['size', (send) => send('small', 'x'.repeat(200)), 'over the 100'],
      ['id', (send) => send('order-events', {}, { id: 'has space' }), 'Invalid message id'],
      ['id', (send) => send('order-events', {}, { id: '123' }), 'digits only'],
      ['key', (send) => send('order-events', {}, { key: '' }), 'Invalid message key'],
      ['key', (send) => send('order-events', {}, { key: 'a\0b' }), 'holds a NUL character'],
      [
        'headers',
        (send) => send('order-events', {}, { headers: { 'x-a': 'line\nbreak' } }),
        'line breaks',
      ],
      [
        'headers',
        (send) => send('order-events', {}, { headers: { 'txkit-message-id': 'x' } }),
        'sets this one itself',
      ],
    ]
    for (const [reason, act, text] of cases) {
      await assert.rejects(
        coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
          await branches.b.query("INSERT INTO marks VALUES ('bad')")
          act((d, p, o) => tx.outbox.send(d, p, o))
        }),
        (error: unknown) =>
          isMessageRefusedError(error) && error.reason === reason && String(error).includes(text),
        `${reason}: ${text}`,
      )
    }
    await assert.rejects(
      coordinator.transaction({ a: a.db }, async (_branches, tx) => {
        tx.outbox.send('order-events', {}, { kye: 'x' } as never)
      }),
      (error: unknown) => isConfigurationError(error) && /did you mean "key"/.test(String(error)),
    )
    assert.deepEqual(await pgMarks(b.pool), [])
    assert.equal((await rows(a.pool)).length, 0)
  })

  test('a duplicate id: in the transaction at the send, against the outbox at commit (rolled back everywhere)', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    await coordinator.transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
      tx.outbox.send('order-events', 1, { id: 'order-7-placed' })
      assert.throws(
        () => tx.outbox.send('order-events', 2, { id: 'order-7-placed' }),
        (error: unknown) => isMessageRefusedError(error) && error.reason === 'duplicate-id',
      )
    })
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        await branches.b.query("INSERT INTO marks VALUES ('dup')")
        tx.outbox.send('order-events', 3, { id: 'order-7-placed' })
      }),
      (error: unknown) =>
        isTransactionRolledBackError(error) &&
        isMessageRefusedError(error.cause) &&
        error.cause.reason === 'duplicate-id',
    )
    assert.deepEqual(await pgMarks(b.pool), [], 'nothing committed in the other database')
    assert.deepEqual(await pgPrepared(b.pool), [])
    assert.equal((await rows(a.pool)).length, 1)
  })

  test('messages riding in the COMMIT: a refused COMMIT is not a duplicate id, a failed branch sends nothing, no session is left failed', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    // The application's own unique key, checked at COMMIT: the COMMIT fails, not the messages.
    await a.pool.query(
      'CREATE TABLE deferred_marks (tx text, CONSTRAINT one_each UNIQUE (tx) DEFERRABLE INITIALLY DEFERRED)',
    )
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        await branches.a.query("INSERT INTO deferred_marks VALUES ('x'), ('x')")
        await branches.b.query("INSERT INTO marks VALUES ('deferred')")
        tx.outbox.send('order-events', 'deferred', { id: 'deferred-1' })
      }),
      (error: unknown) =>
        isTransactionRolledBackError(error) &&
        !isMessageRefusedError(error.cause) &&
        /one_each/.test(String((error.cause as Error).message)),
    )
    // A statement of the decision branch failed and was caught: its COMMIT answers ROLLBACK.
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        await branches.a.query('SELECT 1/0').catch(() => undefined)
        await branches.b.query("INSERT INTO marks VALUES ('failed')")
        tx.outbox.send('order-events', 'failed', { id: 'failed-1' })
      }),
      (error: unknown) => isTransactionRolledBackError(error),
    )
    // A duplicate id found by the carried insert: the COMMIT never ran.
    await coordinator.transaction({ a: a.db }, async (_branches, tx) => {
      tx.outbox.send('order-events', 'first', { id: 'taken' })
    })
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async (branches, tx) => {
        await branches.b.query("INSERT INTO marks VALUES ('taken')")
        tx.outbox.send('order-events', 'again', { id: 'taken' })
      }),
      (error: unknown) =>
        isTransactionRolledBackError(error) &&
        isMessageRefusedError(error.cause) &&
        error.cause.reason === 'duplicate-id',
    )
    assert.deepEqual(
      (await rows(a.pool)).map((row) => row.id),
      ['taken'],
    )
    assert.deepEqual(await pgMarks(b.pool), [], 'nothing committed in the other database')
    assert.deepEqual(await pgPrepared(b.pool), [])
    const { rows: failed } = await a.pool.query(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    assert.equal(failed[0]?.n, 0, 'no session was given back inside a transaction')
    // The pool's sessions still work.
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        coordinator.transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
          tx.outbox.send('order-events', i)
        }),
      ),
    )
    assert.equal((await rows(a.pool)).length, 26)
  })

  test('a savepoint rolled back forgets the messages sent since', async () => {
    const { a, b } = await twoPostgres()
    const coordinator = fixture.coordinator({ decisionLog: a.db, outbox })
    await coordinator.createDecisionLog()
    await coordinator.transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
      tx.outbox.send('order-events', 'kept', { id: 'kept' })
      const savepoint = await tx.savepoint()
      tx.outbox.send('order-events', 'undone', { id: 'undone' })
      await savepoint.rollback()
      tx.outbox.send('order-events', 'again', { id: 'undone' }) // the id is free again
    })
    assert.deepEqual(
      (await rows(a.pool)).map((row) => row.body.toString()),
      ['"kept"', '"again"'],
    )
  })

  test('one key: transactions take turns at commit, their messages in commit order', async () => {
    const { a, b } = await twoPostgres()
    let release: () => void = () => undefined
    let held = new Promise<void>((resolve) => {
      release = resolve
    })
    let holding = ''
    const holdBeforeDecision = async (event: ProtocolStepEvent) => {
      if (event.step === 'decision' && event.when === 'before' && event.gtrid === holding)
        await held
    }
    const keyOrder = async () =>
      (
        await a.pool.query<{ body: Buffer }>(
          "SELECT body FROM txkit_outbox WHERE message_key = 'k' ORDER BY position",
        )
      ).rows.map((row) => row.body.toString())
    const race = async (coordinator: ReturnType<typeof fixture.coordinator>) => {
      const finished: string[] = []
      const first = coordinator.begin({ a: a.db, b: b.db }).then(async (tx) => {
        holding = tx.gtrid
        tx.outbox.send('order-events', 'first', { key: 'k' })
        await tx.commit()
        finished.push('first')
      })
      while (holding === '') await new Promise((resolve) => setTimeout(resolve, 10))
      await new Promise((resolve) => setTimeout(resolve, 200))
      const second = coordinator
        .transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
          tx.outbox.send('order-events', 'second', { key: 'k' })
          tx.outbox.send('order-events', 'third', { key: 'k' })
        })
        .then(() => finished.push('second'))
      await new Promise((resolve) => setTimeout(resolve, 300))
      release()
      await Promise.all([first, second])
      return finished
    }

    // The messages in a prepared branch (the decision log is b's): the first holds its key from
    // before its PREPARE to its COMMIT PREPARED, so the second waits for it.
    const prepared = fixture.coordinator({
      decisionLog: b.db,
      outbox: { ...outbox, database: a.db },
      onStep: holdBeforeDecision,
    })
    await prepared.createDecisionLog()
    assert.deepEqual(await race(prepared), ['first', 'second'], 'the second waited for the first')
    assert.deepEqual(await keyOrder(), ['"first"', '"second"', '"third"'])

    // In the decision branch the messages ride in its COMMIT: the first holds no turn while it
    // waits before its decision, the second commits first, and its messages come first.
    await a.pool.query('TRUNCATE txkit_outbox')
    holding = ''
    held = new Promise<void>((resolve) => {
      release = resolve
    })
    const decided = fixture.coordinator({
      decisionLog: a.db,
      outbox,
      onStep: holdBeforeDecision,
    })
    await decided.createDecisionLog()
    assert.deepEqual(await race(decided), ['second', 'first'], 'the second did not wait')
    assert.deepEqual(await keyOrder(), ['"second"', '"third"', '"first"'], 'in commit order')

    // Many at once, several keys each: every message written once, no deadlock.
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        decided.transaction({ a: a.db, b: b.db }, async (_branches, tx) => {
          tx.outbox.send('order-events', i, { key: 'k' })
          tx.outbox.send('order-events', i, { key: `other-${i % 3}` })
        }),
      ),
    )
    assert.equal((await keyOrder()).length, 23)
  })
})

describe('outbox through the transaction manager', () => {
  test('tx.outbox.send and manager.outbox.send; a transaction that only sends joins the decision database', async () => {
    const { a, b } = await twoPostgres()
    const manager = await fixture.manager({ decisionLog: a.db, outbox })
    await manager.run(async (tx) => {
      const branch = await tx.join('b', b.db)
      await branch.query("INSERT INTO marks VALUES ('m1')")
      tx.outbox.send('order-events', 'from tx')
      manager.outbox.send('order-events', 'from manager')
    })
    await manager.run(async () => {
      manager.outbox.send('order-events', 'alone')
    })
    // One database joined: its branch commits in one phase and holds the messages.
    assert.deepEqual(
      (await rows(b.pool)).map((row) => row.body.toString()),
      ['"from tx"', '"from manager"'],
    )
    assert.deepEqual(
      (await rows(a.pool)).map((row) => row.body.toString()),
      ['"alone"'],
    )
    assert.throws(
      () => manager.outbox.send('order-events', 'outside'),
      (error: unknown) =>
        isTransactionStateError(error) && /inside manager.run/.test(String(error)),
    )
  })

  test('a savepoint of the manager that fails forgets its messages; an aborted run sends none', async () => {
    const { a, b } = await twoPostgres()
    const manager = await fixture.manager({ decisionLog: a.db, outbox })
    await manager.run(async (tx) => {
      const branch = await tx.join('b', b.db)
      tx.outbox.send('order-events', 'outer')
      await tx
        .savepoint(async () => {
          await branch.query("INSERT INTO marks VALUES ('inner')")
          tx.outbox.send('order-events', 'inner')
          throw new Error('inner fails')
        })
        .catch(() => undefined)
    })
    await assert.rejects(
      manager.run(async (tx) => {
        tx.outbox.send('order-events', 'aborted')
        throw new Error('abort')
      }),
    )
    assert.deepEqual(
      (await rows(b.pool)).map((row) => row.body.toString()),
      ['"outer"'],
    )
    assert.equal((await rows(a.pool)).length, 0)
    assert.deepEqual(await pgMarks(b.pool), [])
  })

  test('two async flows: a send beside the other flow’s open savepoint is refused, never forgotten silently', async () => {
    const { a, b } = await twoPostgres()
    const manager = await fixture.manager({ decisionLog: a.db, outbox })
    let release: () => void = () => undefined
    const held = new Promise<void>((resolve) => {
      release = resolve
    })
    let opened: () => void = () => undefined
    const open = new Promise<void>((resolve) => {
      opened = resolve
    })
    let refused: unknown
    await manager.run(async (tx) => {
      await tx.join('b', b.db)
      await Promise.all([
        tx
          .savepoint(async () => {
            tx.outbox.send('order-events', 'inside, undone')
            opened()
            await held
            throw new Error('the first flow fails')
          })
          .catch(() => undefined),
        (async () => {
          await open
          try {
            tx.outbox.send('order-events', 'beside')
          } catch (error) {
            refused = error
          }
          release()
        })(),
      ])
      tx.outbox.send('order-events', 'after')
    })
    assert.ok(isConcurrentSavepointError(refused), String(refused))
    assert.deepEqual(
      (await rows(b.pool)).map((row) => row.body.toString()),
      ['"after"'],
    )
  })

  test('the sequential protocol is refused with an outbox', async () => {
    const { a } = await twoPostgres()
    assert.throws(
      () => fixture.coordinator({ decisionLog: a.db, protocol: 'sequential', outbox }),
      (error: unknown) =>
        isConfigurationError(error) && /decision or the parallel protocol/.test(String(error)),
    )
    assert.throws(
      () =>
        fixture.coordinator({
          decisionLog: a.db,
          outbox: { destinations: { x: { brokr: 'r' } as never } },
        }),
      (error: unknown) =>
        isConfigurationError(error) && /did you mean "broker"/.test(String(error)),
    )
    const plain = fixture.coordinator({ decisionLog: a.db })
    await assert.rejects(
      plain.transaction({ a: a.db }, async (_b, tx) => void tx.outbox.send('order-events', 1)),
      (error: unknown) => isConfigurationError(error) && /has no outbox/.test(String(error)),
    )
  })
})

describe('outbox on MariaDB', () => {
  test('messages commit with the MariaDB decision branch or a prepared MariaDB branch, keys numbered', async (t) => {
    const mariadb = servers.mariadb
    if (mariadb === undefined) return t.skip('no MariaDB on this machine')
    const [urlM, urlN] = await Promise.all([mariadb.createDatabase(), mariadb.createDatabase()])
    const m = await fixture.mysql(urlM ?? '', 'm')
    const n = await fixture.mysql(urlN ?? '', 'n')
    for (const { pool } of [m, n])
      await pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY)')
    await createOutboxTables(m.db)
    await createOutboxTables(n.db)
    const pgSide = await twoPostgres()
    const read = async (pool: mysql.Pool) => {
      const [found] = await pool.query<mysql.RowDataPacket[]>(
        'SELECT id, message_key, key_seq, body, gtrid FROM txkit_outbox ORDER BY position',
      )
      return found.map((row) => [
        String(row.body),
        row.message_key,
        row.key_seq === null ? null : Number(row.key_seq),
      ])
    }
    const decided = fixture.coordinator({ decisionLog: m.db, outbox })
    await decided.createDecisionLog()
    await decided.transaction({ m: m.db, n: n.db }, async (branches, tx) => {
      await branches.n.query("INSERT INTO marks VALUES ('x')")
      tx.outbox.send('order-events', 'one', { key: 'k' })
      tx.outbox.send('order-events', 'two', { key: 'k' })
      tx.outbox.send('order-events', 'free')
    })
    assert.deepEqual(await read(m.pool), [
      ['"one"', 'k', 1],
      ['"two"', 'k', 2],
      ['"free"', null, null],
    ])
    // The decision in PostgreSQL: the MariaDB branch is prepared with the messages in it.
    const elsewhere = fixture.coordinator({ decisionLog: pgSide.a.db, outbox })
    await elsewhere.createDecisionLog()
    await elsewhere.transaction({ n: n.db, m: m.db }, async (_branches, tx) => {
      tx.outbox.send('order-events', 'prepared', { key: 'k' })
    })
    assert.deepEqual(await read(n.pool), [['"prepared"', 'k', 1]])
    await assert.rejects(
      decided.transaction({ m: m.db, n: n.db }, async (branches, tx) => {
        await branches.n.query("INSERT INTO marks VALUES ('y')")
        tx.outbox.send('order-events', 'dup', {
          id: await firstId(m.pool),
        })
      }),
      (error: unknown) => isTransactionRolledBackError(error) && isMessageRefusedError(error.cause),
    )
    const [marks] = await n.pool.query<mysql.RowDataPacket[]>('SELECT tx FROM marks ORDER BY tx')
    assert.deepEqual(
      marks.map((row) => row.tx),
      ['x'],
    )
  })
})

async function firstId(pool: mysql.Pool): Promise<string> {
  const [found] = await pool.query<mysql.RowDataPacket[]>(
    'SELECT id FROM txkit_outbox ORDER BY position LIMIT 1',
  )
  return String(found[0]?.id)
}
