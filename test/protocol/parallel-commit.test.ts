/**
 * The parallel protocol: the decision staged ('S') in parallel with the PREPAREs, a fence row per
 * branch. Asserts on rows, decision rows, fence rows and prepared transactions, on PostgreSQL and
 * MariaDB; the crash matrix kills its coordinator at every step.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { pgPrepared, xaRecover } from '../../harness/fixture.js'
import { waitFor } from '../../harness/wait-for.js'
import { withConnection } from '../../src/database/with-connection.js'
import { parseTableName } from '../../src/dialect/table-name.js'
import {
  type CoordinatorOptions,
  isConfigurationError,
  isDecisionLogMissingError,
  isOutcomeUnknownError,
  isTransactionRolledBackError,
  type RecoveryReport,
  recover,
} from '../../src/index.js'
import { pgDatabase } from '../../src/postgres/node-postgres.js'

const servers = serversForFile()
const { fixture } = servers

/** Two PostgreSQL databases with `marks` and fence tables; `a` holds the decision log. */
async function twoDatabases(options: Partial<CoordinatorOptions> = {}, fences = true) {
  const [urlA, urlB] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
  const a = fixture.pg(urlA ?? '', 'a')
  const b = fixture.pg(urlB ?? '', 'b')
  for (const { pool } of [a, b]) await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
  const coordinator = fixture.coordinator({ decisionLog: a.db, protocol: 'parallel', ...options })
  await coordinator.createDecisionLog()
  if (fences) for (const { db } of [a, b]) await coordinator.createFenceTable(db)
  return { a, b, coordinator }
}

async function marks(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ tx: string }>('SELECT tx FROM marks ORDER BY tx')
  return rows.map((row) => row.tx)
}

async function decisionRows(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ outcome: string }>('SELECT outcome FROM txkit_decision')
  return rows.map((row) => row.outcome)
}

/** A staged row by hand, naming only branch 1 on `database` (index 0 unused, as a failed join leaves). */
async function insertStagedRow(pool: pg.Pool, gtrid: string, database: string): Promise<void> {
  const participants = JSON.stringify({ branches: [null, database], fenceTable: 'txkit_fence' })
  await pool.query(
    `INSERT INTO txkit_decision (gtrid, outcome, participants) VALUES ($1, 'S', $2)`,
    [gtrid, participants],
  )
}

async function fenceRows(pool: pg.Pool): Promise<string[]> {
  const { rows } = await pool.query<{ branch: number; claimed: boolean }>(
    'SELECT branch, claimed FROM txkit_fence ORDER BY branch',
  )
  return rows.map((row) => `${row.branch}${row.claimed ? ' claimed' : ''}`)
}

describe('parallel protocol', () => {
  test('commits everywhere; its staged row and fence rows are gone once it is finished', async () => {
    const { a, b, coordinator } = await twoDatabases()
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await tx.branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['p1'])
    await tx.branches.b.query('INSERT INTO marks (tx) VALUES ($1)', ['p1'])
    // Each branch's fence row is in, uncommitted: invisible to others.
    assert.deepEqual(await fenceRows(a.pool), [])
    const result = await tx.commit()
    assert.equal(result.protocol, 'parallel')
    assert.deepEqual(result.pending, [])
    assert.deepEqual(
      result.branches.map((branch) => branch.state),
      ['committed', 'committed'],
    )
    assert.deepEqual(await marks(a.pool), ['p1'])
    assert.deepEqual(await marks(b.pool), ['p1'])
    // Before the batched deletions: 'C' (turned from 'S') and each branch's committed fence.
    assert.deepEqual(await decisionRows(a.pool), ['C'])
    assert.deepEqual(await fenceRows(a.pool), ['0'])
    assert.deepEqual(await fenceRows(b.pool), ['1'])
    await coordinator.close()
    assert.deepEqual(await decisionRows(a.pool), [])
    assert.deepEqual(await fenceRows(a.pool), [])
    assert.deepEqual(await fenceRows(b.pool), [])
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
  })

  test("acknowledged at the commit point: returns with both branches prepared, 'S' staged", async () => {
    let open: () => void = () => undefined
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const { a, b, coordinator } = await twoDatabases({
      acknowledge: 'decision',
      onStep: async (event) => {
        if (event.step === 'commit' && event.when === 'before') await gate
      },
    })
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await tx.branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['p2'])
    await tx.branches.b.query('INSERT INTO marks (tx) VALUES ($1)', ['p2'])
    const result = await tx.commit()
    assert.ok(result.completion !== undefined)
    assert.deepEqual(
      result.pending.map((branch) => branch.state),
      ['prepared', 'prepared'],
    )
    assert.equal((await pgPrepared(a.pool)).length, 1)
    assert.equal((await pgPrepared(b.pool)).length, 1)
    open()
    const final = await result.completion
    assert.deepEqual(final?.pending, [])
    assert.deepEqual(await marks(a.pool), ['p2'])
    assert.deepEqual(await marks(b.pool), ['p2'])
    await coordinator.close()
    assert.deepEqual(await fenceRows(b.pool), [])
  })

  test("a branch that fails to prepare: 'A' over its own 'S', nothing committed or prepared", async () => {
    const { a, b, coordinator } = await twoDatabases()
    await b.pool.query(
      'CREATE TABLE strict (x int UNIQUE DEFERRABLE INITIALLY DEFERRED); INSERT INTO strict VALUES (1)',
    )
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await tx.branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['p3'])
    await tx.branches.b.query('INSERT INTO strict VALUES (1)')
    await assert.rejects(tx.commit(), isTransactionRolledBackError)
    assert.deepEqual(await marks(a.pool), [])
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
    // The staged row went in alongside the PREPAREs; the coordinator turned its own 'S' into 'A'.
    assert.deepEqual(await decisionRows(a.pool), ['A'])
    assert.deepEqual(await fenceRows(a.pool), [])
    await coordinator.close()
  })

  test('a database without the fence table: refused at begin with the fix, nothing written', async () => {
    const { a, b, coordinator } = await twoDatabases({}, false)
    await coordinator.createFenceTable(a.db)
    await assert.rejects(
      coordinator.transaction({ a: a.db, b: b.db }, async ({ a: branchA }) => {
        await branchA.query('INSERT INTO marks (tx) VALUES ($1)', ['p4'])
      }),
      (error: unknown) =>
        isTransactionRolledBackError(error) &&
        isConfigurationError(error.cause) &&
        /fence table txkit_fence does not exist in database "b".*createFenceTable/.test(
          error.cause.message,
        ),
    )
    assert.deepEqual(await marks(a.pool), [])
    assert.deepEqual(await fenceRows(a.pool), [])
    await coordinator.close()
  })

  test('a decision table made before the parallel protocol refuses S: rolled back with the fix; createDecisionLog() widens it', async () => {
    const { a, b, coordinator } = await twoDatabases()
    await a.pool.query('DROP TABLE txkit_decision')
    await a.pool.query(`CREATE TABLE txkit_decision (
      gtrid varchar(64) PRIMARY KEY,
      outcome char(1) NOT NULL CHECK (outcome IN ('C', 'A')),
      participants text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now())`)
    const write = (tx: string) =>
      coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
        await branches.a.query('INSERT INTO marks (tx) VALUES ($1)', [tx])
        await branches.b.query('INSERT INTO marks (tx) VALUES ($1)', [tx])
      })
    await assert.rejects(
      write('old'),
      (error: unknown) =>
        isTransactionRolledBackError(error) &&
        isDecisionLogMissingError(error.cause) &&
        /made before the parallel protocol.*createDecisionLog/.test(error.cause.message),
    )
    assert.deepEqual([...(await marks(a.pool)), ...(await marks(b.pool))], [])
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
    await coordinator.createDecisionLog()
    await write('new')
    assert.deepEqual(await marks(b.pool), ['new'])
    await coordinator.close()
  })

  test('an open transaction: joined branches are fenced; one branch commits in one phase and leaves no fence', async () => {
    const { a, b, coordinator } = await twoDatabases()
    const two = await coordinator.begin()
    await (await two.join('a', a.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['o2'])
    await (await two.join('b', b.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['o2'])
    assert.equal((await two.commit()).protocol, 'parallel')
    const one = await coordinator.begin()
    await (await one.join('b', b.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['o1'])
    await one.commit()
    assert.deepEqual(await marks(b.pool), ['o1', 'o2'])
    await coordinator.close()
    assert.deepEqual([...(await fenceRows(a.pool)), ...(await fenceRows(b.pool))], [])
    assert.deepEqual(await decisionRows(a.pool), [])
  })

  test('the transaction manager runs it: joined databases are fenced; a user-written resource is refused', async () => {
    const { a, b, coordinator } = await twoDatabases()
    await coordinator.close()
    const manager = await fixture.manager({ decisionLog: a.db, protocol: 'parallel' })
    await manager.run(async (tx) => {
      await (await tx.join('a', a.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['m1'])
      await (await tx.join('b', b.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['m1'])
    })
    assert.deepEqual([...(await marks(a.pool)), ...(await marks(b.pool))], ['m1', 'm1'])
    const resource = {
      sortKey: 'outbox',
      prepare: async () => {},
      commit: async () => {},
      abort: async () => {},
    }
    await assert.rejects(
      manager.run(async (tx) => {
        await (await tx.join('a', a.db)).query('INSERT INTO marks (tx) VALUES ($1)', ['m2'])
        await tx.joinResource(resource)
      }),
      (error: unknown) =>
        isConfigurationError(error) &&
        /cannot take part in a parallel transaction/.test(error.message),
    )
    assert.deepEqual(await marks(a.pool), ['m1'])
    await manager.close()
    assert.deepEqual([...(await fenceRows(a.pool)), ...(await fenceRows(b.pool))], [])
  })

  test('small pools: concurrent transactions never wait for a connection while holding their branches', async () => {
    const [urlA, urlB] = await Promise.all([1, 2].map(() => servers.postgres.createDatabase()))
    const small = [urlA, urlB].map((url) => new pg.Pool({ connectionString: url, max: 2 }))
    try {
      const [a, b] = small.map((pool, index) => pgDatabase(pool, { name: `s${index}` }))
      if (a === undefined || b === undefined) throw new Error('no pools')
      for (const pool of small) await pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
      const coordinator = fixture.coordinator({
        decisionLog: a,
        protocol: 'parallel',
        acknowledge: 'decision',
      })
      await coordinator.createDecisionLog()
      for (const db of [a, b]) await coordinator.createFenceTable(db)
      // Each transaction needs two of a's two connections (its branch and its staged row).
      await Promise.all(
        Array.from({ length: 6 }, async (_, loop) => {
          for (let i = 0; i < 10; i++) {
            await coordinator.transaction({ a, b }, async (branches) => {
              await branches.a.query('INSERT INTO marks (tx) VALUES ($1)', [`${loop}-${i}`])
              await branches.b.query('INSERT INTO marks (tx) VALUES ($1)', [`${loop}-${i}`])
            })
          }
        }),
      )
      // Open transactions (the transaction manager's way) take it with their first join.
      await Promise.all(
        Array.from({ length: 6 }, async (_, loop) => {
          for (let i = 0; i < 10; i++) {
            const tx = await coordinator.begin()
            await (await tx.join('a', a)).query('INSERT INTO marks (tx) VALUES ($1)', [
              `o${loop}-${i}`,
            ])
            await (await tx.join('b', b)).query('INSERT INTO marks (tx) VALUES ($1)', [
              `o${loop}-${i}`,
            ])
            await tx.commit()
          }
        }),
      )
      await coordinator.close()
      for (const pool of small) {
        const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM marks')
        assert.equal(Number(rows[0]?.n), 120)
      }
    } finally {
      await Promise.all(small.map((pool) => pool.end()))
    }
  })

  test('configuration: fenceTable only with the parallel protocol, a valid name, fence tables only for it', async () => {
    const { a } = await twoDatabases({}, false)
    assert.throws(
      () => fixture.coordinator({ decisionLog: a.db, fenceTable: 'f' }),
      (error: unknown) =>
        isConfigurationError(error) && /parallel protocol only/.test(error.message),
    )
    assert.throws(
      () => fixture.coordinator({ decisionLog: a.db, protocol: 'parallel', fenceTable: 'a;b' }),
      (error: unknown) =>
        isConfigurationError(error) && /Invalid fence table name/.test(error.message),
    )
    assert.throws(
      () => fixture.coordinator({ protocol: 'parallel' }),
      (error: unknown) =>
        isConfigurationError(error) && /parallel protocol needs a decision log/.test(error.message),
    )
    await assert.rejects(
      fixture.coordinator({ decisionLog: a.db }).createFenceTable(a.db),
      (error: unknown) =>
        isConfigurationError(error) &&
        /Fence tables serve the parallel protocol/.test(error.message),
    )
  })
})

describe('parallel protocol: recovery and the fence', () => {
  test("a staged row whose branch is live is left; once the branch is gone its fence is claimed, 'A' recorded, and the branch can never begin", async () => {
    // Branches that never began are claimed at once: see the crash matrix.
    const { a, b, coordinator } = await twoDatabases()
    const gtrid = `txkit.${Date.now().toString(36).padStart(9, '0')}0123456789abcdef`
    // Branch 1 is open on b and holds its fence row; the staged row names only it (index 0 is an
    // unused index, as a failed join leaves).
    const live = await b.pool.connect()
    await live.query('BEGIN')
    await live.query('INSERT INTO txkit_fence (gtrid, branch) VALUES ($1, 1)', [gtrid])
    await insertStagedRow(a.pool, gtrid, 'b')
    const round = () =>
      recover({ databases: [a.db, b.db], decisionLog: a.db, minAge: 0, lockTimeout: 200 })
    const first = await round()
    assert.equal(first.transactions.length, 1, JSON.stringify(first))
    assert.equal(first.transactions[0]?.left, 'decision-open')
    assert.match(first.transactions[0]?.reason ?? '', /still running/)
    assert.deepEqual(await decisionRows(a.pool), ['S'])
    assert.deepEqual(await fenceRows(b.pool), [])
    await live.query('ROLLBACK')
    const second = await round()
    assert.equal(second.transactions[0]?.action, 'rolled-back', JSON.stringify(second))
    assert.match(second.transactions[0]?.reason ?? '', /branch 1 never prepared/)
    assert.deepEqual(await decisionRows(a.pool), ['A'])
    assert.deepEqual(await fenceRows(b.pool), ['1 claimed'])
    // A branch that begins late cannot take its fence: it can never be prepared.
    await assert.rejects(
      live.query('INSERT INTO txkit_fence (gtrid, branch) VALUES ($1, 1)', [gtrid]),
      /duplicate key/,
    )
    live.release()
    // Fence rows older than any transaction may run are collected.
    await b.pool.query("UPDATE txkit_fence SET created_at = now() - interval '3 hours'")
    const third = await round()
    assert.equal(third.fencesDeleted, 1)
    assert.deepEqual(await fenceRows(b.pool), [])
    await coordinator.close()
  })
})

describe('parallel protocol: recovery racing the staged row', () => {
  test("a staged row that lands while recovery inserts 'A' is resolved by the fences, never taken as an abort", async () => {
    // Found by the soak test: recovery read no row, the staged row went in, recovery's 'A' insert
    // met it and rolled the branches back as if it were an 'A', while the coordinator, staged and
    // prepared by its own answers, committed: told committed, nothing committed. A trigger holds
    // the staged insert uncommitted so that recovery's 'A' insert waits for it, then meets it.
    // The coordinator waits at its commit point until recovery is done, so that recovery's
    // re-read finds 'S' rather than the coordinator's 'C'.
    let recovered: () => void = () => undefined
    const recoveryDone = new Promise<void>((resolve) => {
      recovered = resolve
    })
    const { a, b, coordinator } = await twoDatabases({
      onStep: async (event) => {
        if (event.step === 'decision' && event.when === 'after') await recoveryDone
      },
    })
    await a.pool.query(`
      CREATE FUNCTION slow_staged() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.outcome = 'S' THEN PERFORM pg_sleep(3); END IF; RETURN NEW; END $$;
      CREATE TRIGGER slow_staged AFTER INSERT ON txkit_decision
      FOR EACH ROW EXECUTE FUNCTION slow_staged()`)
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await tx.branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['r1'])
    await tx.branches.b.query('INSERT INTO marks (tx) VALUES ($1)', ['r1'])
    const committing = tx.commit()
    await waitFor('both branches prepared', 10_000, async () => {
      const prepared = [...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))]
      return prepared.length === 2
    })
    assert.deepEqual(await decisionRows(a.pool), [], 'the staged row is not visible yet')
    const report = await recover({
      databases: [a.db, b.db],
      decisionLog: a.db,
      minAge: 0,
      lockTimeout: 10_000,
    })
    recovered()
    assert.equal(report.transactions.length, 1, JSON.stringify(report))
    assert.equal(report.transactions[0]?.action, 'committed', JSON.stringify(report))
    assert.match(report.transactions[0]?.reason ?? '', /every branch prepared/)
    const result = await committing
    assert.deepEqual(result.pending, [])
    assert.deepEqual(await marks(a.pool), ['r1'])
    assert.deepEqual(await marks(b.pool), ['r1'])
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
    await coordinator.close()
  })

  for (const fencesKept of [true, false]) {
    test(`a worker committed it and collected its row before the coordinator came back: ${fencesKept ? 'the fence rows prove the commit' : 'no fence rows left, outcome unknown'}`, async () => {
      // What the worker did, asserted after the commit: what an 'after' observer throws is only
      // logged, so an assertion in it could never fail the test.
      const worker: { reports: RecoveryReport[]; rowsAfter?: string[]; error?: unknown } = {
        reports: [],
      }
      const { a, b, coordinator } = await twoDatabases({
        onStep: async (event) => {
          if (event.step !== 'decision' || event.when !== 'after') return
          try {
            const round = () => recover({ databases: [a.db, b.db], decisionLog: a.db, minAge: 0 })
            worker.reports.push(await round())
            worker.reports.push(await round()) // collects the 'C' row: nothing of it is prepared
            worker.rowsAfter = await decisionRows(a.pool)
            // Recovery's fence collection, past the deadline, would leave no evidence.
            if (!fencesKept)
              for (const { pool } of [a, b]) await pool.query('DELETE FROM txkit_fence')
          } catch (error) {
            worker.error = error
          }
        },
      })
      const tx = await coordinator.begin({ a: a.db, b: b.db })
      await tx.branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['r2'])
      await tx.branches.b.query('INSERT INTO marks (tx) VALUES ($1)', ['r2'])
      if (fencesKept) {
        const result = await tx.commit()
        assert.deepEqual(result.pending, [])
      } else {
        await assert.rejects(
          tx.commit(),
          (error: unknown) =>
            isOutcomeUnknownError(error) && /staged decision is gone/.test(error.message),
        )
      }
      assert.equal(worker.error, undefined, String(worker.error))
      assert.equal(worker.reports.length, 2, 'the worker ran both rounds')
      const [committing, collecting] = worker.reports
      assert.equal(committing?.transactions.length, 1, JSON.stringify(committing))
      assert.equal(committing?.transactions[0]?.action, 'committed', JSON.stringify(committing))
      assert.equal(collecting?.decisionsDeleted, 1, JSON.stringify(collecting))
      assert.deepEqual(worker.rowsAfter, [], "the worker collected the 'C' row")
      assert.deepEqual(await marks(a.pool), ['r2'])
      assert.deepEqual(await marks(b.pool), ['r2'])
      assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
      await coordinator.close()
      assert.deepEqual([...(await fenceRows(a.pool)), ...(await fenceRows(b.pool))], [])
    })
  }
})

describe('parallel protocol: recovery given the wrong fence table', () => {
  test("a worker given another deployment's fence table claims nothing there: the transaction commits everywhere", async () => {
    // The split this prevents: recovery sees branch 0 prepared while branch 1 is still live, claims
    // branch 1's fence in the other table (where nothing holds it), records 'A' and rolls branch 0
    // back; branch 1 then prepares, and the coordinator, committed by its own answers, commits it.
    let report: Awaited<ReturnType<typeof recover>> | undefined
    const { a, b, coordinator } = await twoDatabases({
      onStep: async (event) => {
        if (event.step !== 'prepare' || event.when !== 'before' || event.branch?.index !== 1) return
        await waitFor('branch 0 prepared and the staged row in', 10_000, async () => {
          const staged = await decisionRows(a.pool)
          return (await pgPrepared(a.pool)).length === 1 && staged[0] === 'S'
        })
        report = await recover({
          databases: [a.db, b.db],
          decisionLog: a.db,
          fenceTable: 'other_fence',
          minAge: 0,
          lockTimeout: 200,
        })
      },
    })
    const other = fixture.coordinator({
      decisionLog: a.db,
      protocol: 'parallel',
      fenceTable: 'other_fence',
    })
    for (const db of [a.db, b.db]) await other.createFenceTable(db)
    await other.close()
    await coordinator.transaction({ a: a.db, b: b.db }, async (branches) => {
      await branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['w1'])
      await branches.b.query('INSERT INTO marks (tx) VALUES ($1)', ['w1'])
    })
    assert.equal(report?.transactions.length, 1, JSON.stringify(report))
    assert.equal(report?.transactions[0]?.action, 'left')
    assert.equal(report?.transactions[0]?.left, 'other-fence-table')
    assert.match(
      report?.transactions[0]?.reason ?? '',
      /fences are in the fence table txkit_fence, and recovery was given other_fence.*--fence-table txkit_fence/,
    )
    assert.deepEqual(await marks(a.pool), ['w1'])
    assert.deepEqual(await marks(b.pool), ['w1'])
    const claimedElsewhere = await b.pool.query('SELECT 1 FROM other_fence')
    assert.equal(claimedElsewhere.rowCount, 0)
    await coordinator.close()
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
  })

  test("a staged row that records no fence table (an earlier txkit's) is left, never claimed", async () => {
    const { a, b, coordinator } = await twoDatabases()
    const gtrid = `txkit.${Date.now().toString(36).padStart(9, '0')}00112233445566ff`
    await a.pool.query(
      `INSERT INTO txkit_decision (gtrid, outcome, participants) VALUES ($1, 'S', '[null,"b"]')`,
      [gtrid],
    )
    const report = await recover({ databases: [a.db, b.db], decisionLog: a.db, minAge: 0 })
    assert.equal(report.transactions[0]?.left, 'other-fence-table', JSON.stringify(report))
    assert.match(report.transactions[0]?.reason ?? '', /does not record its fence table/)
    assert.deepEqual(await decisionRows(a.pool), ['S'])
    assert.deepEqual(await fenceRows(b.pool), [])
    await coordinator.close()
  })

  test("the coordinator never commits over an 'A' it finds where its 'C' was due: outcome unknown, recovery rolls back", async () => {
    // What a worker that claims fences in the wrong table (or edits the row) would leave.
    const { a, b, coordinator } = await twoDatabases({
      onStep: async (event) => {
        if (event.step === 'decision' && event.when === 'after') {
          await a.pool.query("UPDATE txkit_decision SET outcome = 'A' WHERE outcome = 'S'")
        }
      },
    })
    const tx = await coordinator.begin({ a: a.db, b: b.db })
    await tx.branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['w2'])
    await tx.branches.b.query('INSERT INTO marks (tx) VALUES ($1)', ['w2'])
    await assert.rejects(
      tx.commit(),
      (error: unknown) =>
        isOutcomeUnknownError(error) &&
        /decision row 'A' where 'C' was due/.test(error.message) &&
        /stay prepared/.test(error.message),
    )
    assert.equal((await pgPrepared(a.pool)).length, 1)
    assert.equal((await pgPrepared(b.pool)).length, 1)
    assert.deepEqual([...(await marks(a.pool)), ...(await marks(b.pool))], [])
    const report = await recover({ databases: [a.db, b.db], decisionLog: a.db, minAge: 0 })
    assert.equal(report.transactions[0]?.action, 'rolled-back', JSON.stringify(report))
    assert.deepEqual([...(await marks(a.pool)), ...(await marks(b.pool))], [])
    assert.deepEqual([...(await pgPrepared(a.pool)), ...(await pgPrepared(b.pool))], [])
    await coordinator.close()
  })
})

describe('parallel protocol on MariaDB', () => {
  test('PG + MariaDB commit, and a MariaDB fence blocks a claim while its branch lives', async (t) => {
    if (servers.mariadb === undefined) {
      t.skip('no MariaDB')
      return
    }
    const urlA = await servers.postgres.createDatabase()
    const urlM = await servers.mariadb.createDatabase()
    const a = fixture.pg(urlA, 'a')
    const m = await fixture.mysql(urlM, 'm')
    await a.pool.query('CREATE TABLE marks (tx text PRIMARY KEY)')
    await m.pool.query('CREATE TABLE marks (tx varchar(64) PRIMARY KEY) ENGINE=InnoDB')
    const coordinator = fixture.coordinator({ decisionLog: a.db, protocol: 'parallel' })
    await coordinator.createDecisionLog()
    for (const db of [a.db, m.db]) await coordinator.createFenceTable(db)
    await coordinator.transaction({ a: a.db, m: m.db }, async (branches) => {
      await branches.a.query('INSERT INTO marks (tx) VALUES ($1)', ['pm'])
      await branches.m.query('INSERT INTO marks (tx) VALUES (?)', ['pm'])
    })
    const [rows] = await m.pool.query('SELECT tx FROM marks')
    assert.deepEqual(rows, [{ tx: 'pm' }])
    await coordinator.close()
    assert.deepEqual(await xaRecover(m.pool), [])
    const [fences] = await m.pool.query('SELECT * FROM txkit_fence')
    assert.deepEqual(fences, [])

    const gtrid = `txkit.${Date.now().toString(36).padStart(9, '0')}fedcba9876543210`
    const live = await m.pool.getConnection()
    await live.query('BEGIN')
    await live.query('INSERT INTO txkit_fence (gtrid, branch) VALUES (?, 1)', [gtrid])
    await insertStagedRow(a.pool, gtrid, 'm')
    const round = () =>
      recover({ databases: [a.db, m.db], decisionLog: a.db, minAge: 0, lockTimeout: 1000 })
    assert.equal((await round()).transactions[0]?.left, 'decision-open')
    await live.query('ROLLBACK')
    live.release()
    assert.equal((await round()).transactions[0]?.action, 'rolled-back')
    assert.deepEqual(await decisionRows(a.pool), ['A'])
    const [claimed] = await m.pool.query('SELECT branch, claimed FROM txkit_fence')
    assert.deepEqual(claimed, [{ branch: 1, claimed: 1 }])
  })

  test('two claims of one MariaDB fence as its branch ends: one claims it, the other waits for a later round', async (t) => {
    // InnoDB: two inserts of a key another session inserted uncommitted both wait; when it rolls
    // back, one of them is chosen as a deadlock victim (found by the soak test as a failed round).
    // Workers of one decision log no longer meet on one transaction (they split rounds by share
    // locks); a worker whose share lock failed still can, so the second claim is made directly.
    if (servers.mariadb === undefined) {
      t.skip('no MariaDB')
      return
    }
    const a = fixture.pg(await servers.postgres.createDatabase(), 'a')
    const m = await fixture.mysql(await servers.mariadb.createDatabase(), 'm')
    const coordinator = fixture.coordinator({ decisionLog: a.db, protocol: 'parallel' })
    await coordinator.createDecisionLog()
    await coordinator.createFenceTable(m.db)
    const gtrid = `txkit.${Date.now().toString(36).padStart(9, '0')}0f1e2d3c4b5a6978`
    const live = await m.pool.getConnection()
    await live.query('BEGIN')
    await live.query('INSERT INTO txkit_fence (gtrid, branch) VALUES (?, 1)', [gtrid])
    await insertStagedRow(a.pool, gtrid, 'm')
    const round = () =>
      recover({ databases: [a.db, m.db], decisionLog: a.db, minAge: 0, lockTimeout: 10_000 })
    const fences = m.db.dialect.fences
    if (fences === undefined) throw new Error('MariaDB holds no fences')
    const first = round()
    const second = withConnection(m.db, (connection) =>
      fences.claim(connection, parseTableName('txkit_fence'), { gtrid, index: 1 }, 10_000),
    )
    await waitFor('both claims waiting for the live fence', 10_000, async () => {
      const [rows] = await m.pool.query(
        "SELECT COUNT(*) AS waiting FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'",
      )
      return Number((rows as Array<{ waiting: number }>)[0]?.waiting) === 2
    })
    await live.query('ROLLBACK')
    live.release()
    const [report, claim] = await Promise.all([first, second])
    const action = report.transactions[0]?.action
    // One of the two claimed the fence; the other found it claimed, or as the deadlock victim
    // answered 'busy' (left for a later round), never an error.
    assert.ok(
      (action === 'rolled-back' && (claim === 'busy' || claim === 'claimed')) ||
        (action === 'left' && claim === 'claimed'),
      JSON.stringify({ report, claim }),
    )
    // Either way the next round settles it: the fence is claimed, so 'A'.
    if (action === 'left') await round()
    assert.deepEqual(await decisionRows(a.pool), ['A'])
    await coordinator.close()
  })
})
