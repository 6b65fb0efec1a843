/**
 * Faults at and around the commit of a distributed transaction over PostgreSQL and each target
 * (PostgreSQL, MariaDB): sessions killed, connections cut during the decision, deadlocks, a
 * decision taken first by recovery, a deadline passed, a decision table missing.
 */
import assert from 'node:assert/strict'
import { describe } from 'node:test'
import {
  decisionRows,
  mariadbTarget,
  type PostgresDatabase,
  postgresTarget,
  preparedIn,
  sessionId,
  type Target,
  type TestDatabase,
  targetTest,
  threeDatabases,
} from '../../harness/commit-targets.js'
import { serversForFile } from '../../harness/file-servers.js'
import {
  type Coordinator,
  type Database,
  isDecisionLogMissingError,
  isOutcomeUnknownError,
  isTransactionRolledBackError,
  recover,
} from '../../src/index.js'

const servers = serversForFile()
const { fixture } = servers
const postgres = postgresTarget(servers)
const targets: Target[] = [postgres, mariadbTarget(servers)]

/**
 * Database `a` reached through a proxy that, at the decision, lets the next chunk containing
 * `trigger` reach the server and then cuts the line; and a coordinator whose decision log it is.
 */
async function cuttingAtTheDecision(a: PostgresDatabase, trigger: string) {
  const viaProxy = await fixture.pgThroughProxy(a.url, 'a')
  const coordinator = fixture.coordinator({
    decisionLog: viaProxy.db,
    onStep: (event) => {
      if (event.step === 'decision' && event.when === 'before') viaProxy.proxy.cutAfter(trigger)
    },
  })
  return { viaProxy, proxy: viaProxy.proxy, coordinator }
}

for (const target of targets) {
  const it = (title: string, body: () => Promise<void>) => targetTest(target, title, body)

  describe(`PostgreSQL + ${target.name}: faults`, () => {
    // The decision database is PostgreSQL, or (for another target) a database of the target.
    const placements: Target[] = target === postgres ? [postgres] : [postgres, target]
    for (const decisionOn of placements) {
      it(`the decision session known dead before its COMMIT (decision log on ${decisionOn.name}): rolled back everywhere, never "unknown"`, async () => {
        const a = await decisionOn.database('a')
        const b = await (decisionOn === postgres ? target : postgres).database('b')
        const c = await target.database('c')
        let decisionSession = 0
        const coordinator = fixture.coordinator({
          decisionLog: a.db,
          onStep: async (event) => {
            if (event.step === 'decision' && event.when === 'before') {
              // Wait until txkit's session (the decision branch's, the last checked out of a) has
              // seen its end before the decision is taken.
              const branchSession = a.driver.connections.at(-1)
              const ended = new Promise<void>((resolve) => branchSession?.onLost?.(resolve))
              await a.kill(decisionSession)
              await ended
            }
          },
        })
        await coordinator.createDecisionLog()
        let caught: unknown
        await coordinator
          .transaction({ a: a.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
            await a.query(`INSERT INTO marks VALUES ('t8', 'a')`)
            await b.query(`INSERT INTO marks VALUES ('t8', 'b')`)
            await c.query(`INSERT INTO marks VALUES ('t8', 'c')`)
            decisionSession = await sessionId(decisionOn, a)
          })
          .catch((error: unknown) => {
            caught = error
          })
        assert.ok(isTransactionRolledBackError(caught), String(caught))
        assert.match(
          caught.message,
          /session of the decision database "a" was gone before its COMMIT was sent/,
        )
        assert.doesNotMatch(caught.message, /stay prepared/)
        assert.deepEqual(
          caught.branches.map((branch) => [branch.names[0], branch.state]),
          [
            ['a', 'rolled-back'],
            ['b', 'rolled-back'],
            ['c', 'rolled-back'],
          ],
        )
        for (const database of [a, b, c]) assert.deepEqual(await database.marks(), [])
        assert.deepEqual(await preparedIn(a, b, c), [])
        assert.deepEqual(await decisionRows(a), [], "the uncommitted 'C' row died with its session")
      })
    }

    it('a connection cut while the decision COMMIT is in flight: outcome unknown, prepared branches left alone', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      const { viaProxy, proxy, coordinator } = await cuttingAtTheDecision(a, 'COMMIT')
      let caught: unknown
      await coordinator
        .transaction({ a: viaProxy.db, b: b.db, c: c.db }, async ({ a, b, c }) => {
          await a.query(`INSERT INTO marks VALUES ('t9', 'a')`)
          await b.query(`INSERT INTO marks VALUES ('t9', 'b')`)
          await c.query(`INSERT INTO marks VALUES ('t9', 'c')`)
        })
        .catch((error: unknown) => {
          caught = error
        })
      assert.equal(proxy.cuts, 1)
      assert.ok(isOutcomeUnknownError(caught), String(caught))
      assert.match(
        caught.message,
        /connection to the decision database "a" was lost during its COMMIT/,
      )
      assert.match(caught.message, /branch\(es\) "b", "c" stay prepared/)
      assert.match(caught.message, /branch\(es\) "a" were cut off before their step was confirmed/)
      assert.deepEqual(
        caught.branches.map((branch) => [branch.names[0], branch.state]),
        [
          ['a', 'unknown'],
          ['b', 'prepared'],
          ['c', 'prepared'],
        ],
      )
      assert.deepEqual(
        await preparedIn(b, c),
        caught.branches
          .slice(1)
          .map((branch) => branch.xid)
          .sort(),
        'nothing was rolled back',
      )
      // The COMMIT reached the server: recovery follows the 'C' row it committed, all one way.
      const committed = (await a.marks()).includes('t9')
      const report = await recover({ databases: [a.db, b.db, c.db], decisionLog: a.db, minAge: 0 })
      assert.equal(report.transactions[0]?.action, committed ? 'committed' : 'rolled-back')
      for (const database of [a, b, c]) {
        assert.deepEqual(await database.marks(), committed ? ['t9'] : [])
      }
      assert.deepEqual(await preparedIn(a, b, c), [])
    })

    it('a connection cut after a standalone decision was sent: outcome unknown, recovery follows the row', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      const { proxy, coordinator } = await cuttingAtTheDecision(a, 'txkit_decision')
      let caught: unknown
      await coordinator
        .transaction({ b: b.db, c: c.db }, async ({ b, c }) => {
          await b.query(`INSERT INTO marks VALUES ('t19', 'b')`)
          await c.query(`INSERT INTO marks VALUES ('t19', 'c')`)
        })
        .catch((error: unknown) => {
          caught = error
        })
      assert.equal(proxy.cuts, 1)
      assert.ok(isOutcomeUnknownError(caught), String(caught))
      assert.match(caught.message, /lost while recording the decision/)
      assert.deepEqual(
        caught.branches.map((branch) => branch.state),
        ['prepared', 'prepared'],
      )
      assert.equal((await preparedIn(b, c)).length, 2)
      // Whatever the server did with the cut INSERT (it usually commits it), recovery follows the row.
      const gtrid = caught.gtrid
      const decided = (await decisionRows(a)).find((row) => row.gtrid === gtrid)
      const report = await recover({ databases: [a.db, b.db, c.db], decisionLog: a.db, minAge: 0 })
      assert.equal(
        report.transactions[0]?.action,
        decided?.outcome === 'C' ? 'committed' : 'rolled-back',
      )
      const expected = decided?.outcome === 'C' ? ['t19'] : []
      assert.deepEqual(await b.marks(), expected)
      assert.deepEqual(await c.marks(), expected)
      assert.deepEqual(await preparedIn(b, c), [])
    })

    it(`a ${target.name} connection killed before its prepare: everything rolls back`, async () => {
      const { a: p, b: m1, c: m2 } = await threeDatabases(servers, target)
      let victim = 0
      const coordinator = fixture.coordinator({
        decisionLog: p.db,
        onStep: async (event) => {
          if (
            event.step === 'prepare' &&
            event.when === 'before' &&
            event.branch?.names[0] === 'm2'
          ) {
            await m2.kill(victim)
          }
        },
      })
      await assert.rejects(
        coordinator.transaction({ p: p.db, m1: m1.db, m2: m2.db }, async ({ p, m1, m2 }) => {
          await p.query(`INSERT INTO marks VALUES ('t4', 'p')`)
          await m1.query(`INSERT INTO marks VALUES ('t4', 'm1')`)
          await m2.query(`INSERT INTO marks VALUES ('t4', 'm2')`)
          victim = await sessionId(target, m2)
        }),
        (error: unknown) =>
          isTransactionRolledBackError(error) &&
          error.branches.find((branch) => branch.names[0] === 'm2')?.state !== 'prepared',
      )
      for (const database of [p, m1, m2]) assert.deepEqual(await database.marks(), [])
      assert.deepEqual(await preparedIn(p, m1, m2), [])
    })

    it(`a deadlock in a ${target.name} branch rolls the whole transaction back cleanly`, async () => {
      const { a: p, b: m, coordinator } = await threeDatabases(servers, target)
      await m.query(`INSERT INTO marks VALUES ('r1', '0'), ('r2', '0')`)
      for (const swallow of [false, true]) {
        const outcomes = await deadlockPair(coordinator, target, p, m, swallow)
        const failed = outcomes.filter((outcome) => outcome.status === 'rejected')
        assert.equal(failed.length, 1, 'exactly one of the two is the deadlock victim')
        const reason = (failed[0] as PromiseRejectedResult).reason
        if (swallow) {
          // The victim's branch is rollback-only (MariaDB) or aborted (PostgreSQL): its end or
          // prepare fails, and txkit still rolls it back.
          assert.ok(isTransactionRolledBackError(reason), String(reason))
        } else {
          assert.ok(target.isDeadlock(reason), String(reason))
        }
        assert.deepEqual(await preparedIn(p, m), [])
        const rows = await m.query('SELECT note FROM marks ORDER BY tx')
        const winner = outcomes.findIndex((outcome) => outcome.status === 'fulfilled')
        assert.deepEqual(
          rows.map((row) => row.note),
          [`w${winner}`, `w${winner}`],
        )
        assert.deepEqual(await p.marks(), [`${swallow}-${winner}`])
        await p.query('DELETE FROM marks')
      }
      // Pooled connections that went through the deadlock are usable again.
      const [check] = await m.query('SELECT 1 AS one')
      assert.equal(check?.one, 1)
    })

    it('an abort decision recorded first (by recovery) wins: rolled back', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      const coordinator = fixture.coordinator({
        decisionLog: a.db,
        onStep: async (event) => {
          if (event.step === 'decision' && event.when === 'before') {
            await a.query(
              `INSERT INTO txkit_decision (gtrid, outcome, participants) VALUES (?, 'A', '[]')`,
              [event.gtrid],
            )
          }
        },
      })
      await assert.rejects(
        coordinator.transaction({ b: b.db, c: c.db }, async ({ b, c }) => {
          await b.query(`INSERT INTO marks VALUES ('t11', 'b')`)
          await c.query(`INSERT INTO marks VALUES ('t11', 'c')`)
        }),
        (error: unknown) =>
          isTransactionRolledBackError(error) && /already decided to abort/.test(error.message),
      )
      for (const database of [b, c]) assert.deepEqual(await database.marks(), [])
      assert.deepEqual(await preparedIn(b, c), [])
    })

    it('past maxTransactionDuration a separate decision is refused by the database clock', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      const coordinator = fixture.coordinator({ decisionLog: a.db, maxTransactionDuration: 50 })
      const slowly = async (branches: Record<string, { query(sql: string): Promise<unknown> }>) => {
        for (const branch of Object.values(branches))
          await branch.query(`INSERT INTO marks VALUES ('t12', 'x')`)
        await new Promise((resolve) => setTimeout(resolve, 120))
      }
      await assert.rejects(
        coordinator.transaction({ b: b.db, c: c.db }, slowly),
        (error: unknown) =>
          isTransactionRolledBackError(error) &&
          /past the transaction's deadline/.test(error.message),
      )
      for (const database of [b, c]) assert.deepEqual(await database.marks(), [])
      assert.deepEqual(await preparedIn(b, c), [])
      // When the decision database takes part, its uncommitted 'C' row (written at BEGIN) blocks
      // any abort decision for the whole transaction, so no deadline is needed there.
      await coordinator.transaction({ a: a.db, b: b.db }, slowly)
      assert.deepEqual(await a.marks(), ['t12'])
      assert.deepEqual(await b.marks(), ['t12'])
    })

    it('a missing decision table is a clear error and nothing commits', async () => {
      const { a, b, c } = await threeDatabases(servers, target)
      await a.query('DROP TABLE txkit_decision')
      const coordinator = fixture.coordinator({ decisionLog: a.db })
      for (const dbs of [
        { b: b.db, c: c.db },
        { a: a.db, b: b.db },
      ]) {
        await assert.rejects(
          coordinator.transaction(dbs, async (branches) => {
            for (const branch of Object.values(branches))
              await branch.query(`INSERT INTO marks VALUES ('t13', 'x')`)
          }),
          (error: unknown) =>
            isTransactionRolledBackError(error) &&
            isDecisionLogMissingError(error.cause) &&
            /createDecisionLog\(\)/.test(error.cause.message),
        )
      }
      for (const database of [a, b, c]) assert.deepEqual(await database.marks(), [])
      assert.deepEqual(await preparedIn(a, b, c), [])
    })

    if (target === postgres) {
      it('a decision table that cannot be created is a clear error naming the fix', async () => {
        const a = await postgres.database('a')
        const role = `limited_${Math.random().toString(36).slice(2, 8)}`
        await a.query(`CREATE ROLE ${role} LOGIN`)
        await a.query('REVOKE CREATE ON SCHEMA public FROM PUBLIC')
        const url = new URL(a.url)
        url.username = role
        const limited = fixture.pg(url.toString(), 'limited')
        const coordinator = fixture.coordinator({
          decisionLog: { database: limited.db, table: 'ops.decisions' },
        })
        await assert.rejects(
          coordinator.createDecisionLog(),
          (error: unknown) =>
            isDecisionLogMissingError(error) &&
            error.database === 'limited' &&
            error.table === 'ops.decisions' &&
            /Could not create the decision table ops\.decisions.*permission denied.*Grant the CREATE privilege/.test(
              error.message,
            ),
        )
      })
    }
  })
}

/**
 * Two transactions updating r1 and r2 of database `m` in opposite orders. Each also writes a mark
 * in PostgreSQL `p`, so a wrong commit would show there.
 */
async function deadlockPair(
  coordinator: Coordinator,
  target: Target,
  p: { db: Database },
  m: TestDatabase,
  swallow: boolean,
): Promise<PromiseSettledResult<void>[]> {
  let firstLocked: () => void = () => {}
  const bothLocked = [new Promise<void>((resolve) => (firstLocked = resolve))]
  let secondLocked: () => void = () => {}
  bothLocked.push(new Promise<void>((resolve) => (secondLocked = resolve)))
  const update = target.sql('UPDATE marks SET note = ? WHERE tx = ?')
  const run = (worker: number, order: [string, string], locked: () => void) =>
    coordinator.transaction({ p: p.db, m: m.db }, async ({ p, m }) => {
      await p.query('INSERT INTO marks VALUES ($1, $2)', [`${swallow}-${worker}`, 'x'])
      await m.query(update, [`w${worker}`, order[0]])
      locked()
      await Promise.all(bothLocked)
      try {
        await m.query(update, [`w${worker}`, order[1]])
      } catch (error) {
        if (!swallow) throw error
      }
    })
  return Promise.allSettled([run(0, ['r1', 'r2'], firstLocked), run(1, ['r2', 'r1'], secondLocked)])
}
