/**
 * `txkit resolve` and `txkit audit`: an operator's decision for an in-doubt transaction, on real
 * servers (PostgreSQL and MariaDB), recorded in the decision log first and audited.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import type { Pool as MysqlPool } from 'mysql2/promise'
import type pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { CLI_DRIVERS, inDoubtAcrossThree, passwordsOf } from '../../harness/in-doubt-deployment.js'
import { runCli } from '../../harness/run-cli.js'

const servers = serversForFile()
const { fixture } = servers

/** a (decision log) + b on PostgreSQL, m on MariaDB; b and m each hold a balance of 100. */
async function deployment(marker: string, when: 'before' | 'after') {
  const setup = await inDoubtAcrossThree(servers, { prefix: 'resolved', marker, when })
  if (setup === undefined) return undefined
  const { a, b, mUrl } = setup
  const db = ['--db', `a=${a.url}`, '--db', `b=${b.url}`, '--db', `m=${mUrl}`, ...CLI_DRIVERS]
  return { ...setup, db }
}

/** `txkit resolve gtrid` over `db`, with the decision log in a, and `rest`. */
function resolveCli(gtrid: string, db: readonly string[], rest: readonly string[]) {
  return runCli(['resolve', gtrid, ...db, '--decision-log', 'a', ...rest])
}

/** The branches of `gtrid` still prepared on b and m (MariaDB's list is server-wide). */
async function prepared(
  b: { pool: pg.Pool },
  m: { pool: MysqlPool },
  gtrid: string,
): Promise<number> {
  const onB = await b.pool.query(
    'SELECT 1 FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, $1)',
    [gtrid],
  )
  const [onM] = (await m.pool.query('XA RECOVER')) as unknown as [{ data: string | Buffer }[]]
  return onB.rows.length + onM.filter((row) => String(row.data).startsWith(gtrid)).length
}

async function balances(b: { pool: pg.Pool }, m: { pool: MysqlPool }): Promise<[number, number]> {
  const onB = await b.pool.query<{ balance: number }>('SELECT balance FROM accounts WHERE id = 1')
  const [onM] = (await m.pool.query('SELECT balance FROM accounts WHERE id = 1')) as unknown as [
    { balance: number }[],
  ]
  return [onB.rows[0]?.balance ?? -1, onM[0]?.balance ?? -1]
}

async function decisionRow(a: { pool: pg.Pool }, gtrid: string): Promise<string | undefined> {
  const { rows } = await a.pool.query<{ outcome: string }>(
    'SELECT outcome FROM txkit_decision WHERE gtrid = $1',
    [gtrid],
  )
  return rows[0]?.outcome
}

describe('txkit resolve', () => {
  test('no decision row (the coordinator died before it): --rollback records A first, rolls back every branch, and is audited with actor, reason and what each database did', async (t) => {
    const setup = await deployment('resolve-1', 'before')
    if (setup === undefined) return t.skip('no MariaDB')
    const { a, b, m, mUrl, gtrid } = setup
    // The harness's PostgreSQL trusts its clients: a password in the URL is sent and ignored.
    const password = 'Pw-resolve-7f3a'
    const withPassword = (url: string) => {
      const parsed = new URL(url)
      parsed.password = password
      return parsed.toString()
    }
    const db = [
      '--db',
      `a=${withPassword(a.url)}`,
      '--db',
      `b=${withPassword(b.url)}`,
      '--db',
      `m=${mUrl}`,
      ...CLI_DRIVERS,
    ]
    assert.equal(await prepared(b, m, gtrid), 2)
    assert.equal(await decisionRow(a, gtrid), undefined)

    // Without the audit table nothing is done.
    const noAudit = await resolveCli(gtrid, db, ['--rollback', '--reason', 'x'])
    assert.equal(noAudit.code, 1, noAudit.stdout + noAudit.stderr)
    assert.match(
      noAudit.stderr,
      /audit table txkit_audit does not exist in database "a".*txkit init --audit/,
    )
    assert.equal(await prepared(b, m, gtrid), 2)
    assert.equal(await decisionRow(a, gtrid), undefined)

    const init = await runCli(['init', ...db, '--decision-log', 'a', '--audit'])
    assert.equal(init.code, 0, init.stdout + init.stderr)
    assert.match(init.stdout, /Audit table txkit_audit is ready in "a"/)

    const resolved = await resolveCli(gtrid, db, [
      '--rollback',
      '--reason',
      'x',
      '--actor',
      'alice',
    ])
    assert.equal(resolved.code, 0, resolved.stdout + resolved.stderr)
    assert.match(resolved.stdout, /: RESOLVED: rolled back$/m)
    assert.match(resolved.stdout, /^ {2}decision {3}'A' \(abort\) recorded now \(before: none\)$/m)
    assert.match(resolved.stdout, /^ {2}a {2}no branch prepared$/m)
    assert.match(resolved.stdout, /^ {2}b {2}prepared; ROLLED BACK \S+$/m)
    assert.match(resolved.stdout, /^ {2}m {2}prepared; ROLLED BACK \S+$/m)
    assert.equal(await decisionRow(a, gtrid), 'A')
    assert.equal(await prepared(b, m, gtrid), 0)
    assert.deepEqual(await balances(b, m), [100, 100])

    const listed = await runCli(['audit', ...db, '--audit-db', 'a', '--gtrid', gtrid, '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const rows = JSON.parse(listed.stdout)
    assert.equal(rows.length, 1)
    const [row] = rows
    assert.equal(row.actor, 'alice')
    assert.equal(row.reason, 'x')
    assert.equal(row.gtrid, gtrid)
    assert.equal(row.decision, 'rollback')
    assert.equal(row.recorded, 'A')
    assert.equal(row.outcome, 'resolved')
    assert.ok(Math.abs(Date.parse(row.at) - Date.now()) < 60_000, row.at)
    const actions = Object.fromEntries(
      row.actions.databases.map(
        (each: { name: string; found: string; actions: { action: string }[] }) => [
          each.name,
          [each.found, ...each.actions.map((action) => action.action)],
        ],
      ),
    )
    assert.deepEqual(actions, {
      a: ['not-found'],
      b: ['prepared', 'rolled-back'],
      m: ['prepared', 'rolled-back'],
    })
    const text = await runCli(['audit', ...db, '--audit-db', 'a'])
    assert.match(
      text.stdout,
      new RegExp(` alice: ${gtrid.replace(/\./g, '\\.')} --rollback → RESOLVED, decision row 'A'`),
    )

    // A database that cannot be reached: refused, named by its host, never by its password.
    const unreachable = await runCli([
      'resolve',
      gtrid,
      ...db,
      '--db',
      `x=postgres://u:${password}@127.0.0.1:1/x`,
      '--decision-log',
      'a',
      '--rollback',
      '--reason',
      'x',
      '--connect-timeout',
      '2s',
    ])
    assert.equal(unreachable.code, 1, unreachable.stdout + unreachable.stderr)
    assert.match(unreachable.stdout + unreachable.stderr, /127\.0\.0\.1:1/)
    for (const output of [noAudit, init, resolved, listed, text, unreachable]) {
      assert.ok(!output.stdout.includes(password) && !output.stderr.includes(password))
    }
    for (const secret of passwordsOf(a.url, b.url, mUrl)) {
      for (const output of [noAudit, init, resolved, listed, text, unreachable]) {
        assert.ok(!output.stdout.includes(secret) && !output.stderr.includes(secret))
      }
    }
  })

  test("a 'C' row recorded: --rollback is refused (exit 1, nothing changed, audited as refused); --commit commits every branch", async (t) => {
    const setup = await deployment('resolve-2', 'after')
    if (setup === undefined) return t.skip('no MariaDB')
    const { a, b, m, gtrid, db } = setup
    await runCli(['init', ...db, '--decision-log', 'a', '--audit'])
    assert.equal(await decisionRow(a, gtrid), 'C')
    assert.equal(await prepared(b, m, gtrid), 2)

    const refused = await resolveCli(gtrid, db, ['--rollback', '--reason', 'wrong'])
    assert.equal(refused.code, 1, refused.stdout + refused.stderr)
    assert.match(refused.stdout, /: REFUSED, nothing changed$/m)
    assert.match(
      refused.stdout,
      /refused {4}its decision row says 'C' \(commit\): a rollback would contradict the recorded decision/,
    )
    assert.equal(await prepared(b, m, gtrid), 2)
    assert.equal(await decisionRow(a, gtrid), 'C')

    const committed = await resolveCli(gtrid, db, ['--commit', '--reason', 'follow C', '--json'])
    assert.equal(committed.code, 0, committed.stdout + committed.stderr)
    const result = JSON.parse(committed.stdout)
    assert.equal(result.outcome, 'resolved')
    assert.equal(result.recordedBefore, 'C')
    assert.equal(result.recorded, 'C')
    assert.deepEqual(result.risks, [])
    assert.equal(await prepared(b, m, gtrid), 0)
    assert.deepEqual(await balances(b, m), [90, 110])

    const listed = await runCli(['audit', ...db, '--audit-db', 'a', '--json', '--limit', '5'])
    const rows = JSON.parse(listed.stdout)
    assert.deepEqual(
      rows.map((row: { outcome: string; decision: string; recorded: string }) => [
        row.decision,
        row.outcome,
        row.recorded,
      ]),
      [
        ['commit', 'resolved', 'C'],
        ['rollback', 'refused', 'C'],
      ],
    )
    assert.match(rows[1].actions.refusal, /contradict/)
  })

  test('no decision row: --commit is heuristic and refused without --heuristic; the audit table on MariaDB (--audit-db)', async (t) => {
    const setup = await deployment('resolve-3', 'before')
    if (setup === undefined) return t.skip('no MariaDB')
    const { a, b, m, gtrid } = setup
    const db = [...setup.db, '--audit-db', 'm']
    const init = await runCli(['init', ...setup.db, '--audit', '--audit-db', 'm'])
    assert.equal(init.code, 0, init.stdout + init.stderr)
    assert.match(init.stdout, /Audit table txkit_audit is ready in "m"/)
    const refused = await resolveCli(gtrid, db, ['--commit', '--reason', 'r'])
    assert.equal(refused.code, 1, refused.stdout + refused.stderr)
    assert.match(refused.stdout, /add --heuristic/)
    assert.match(refused.stdout, /risk {7}no decision row: the protocol's outcome is abort/)
    assert.match(
      refused.stdout,
      /risk {7}branch\(es\) \d of 3 are prepared on none of the databases given/,
    )
    assert.equal(await decisionRow(a, gtrid), undefined)
    assert.equal(await prepared(b, m, gtrid), 2)
    const forced = await resolveCli(gtrid, db, ['--commit', '--reason', 'r', '--heuristic'])
    assert.equal(forced.code, 0, forced.stdout + forced.stderr)
    assert.match(forced.stdout, /: HEURISTIC: committed$/m)
    assert.match(forced.stdout, /^Audit row written to txkit_audit in database "m"\.$/m)
    assert.equal(await decisionRow(a, gtrid), 'C')
    assert.deepEqual(await balances(b, m), [90, 110])
    const listed = await runCli(['audit', ...db, '--gtrid', gtrid, '--json'])
    assert.equal(listed.code, 0, listed.stdout + listed.stderr)
    const rows = JSON.parse(listed.stdout)
    assert.deepEqual(
      rows.map((row: { decision: string; outcome: string; recorded: string | null }) => [
        row.decision,
        row.outcome,
        row.recorded,
      ]),
      [
        ['commit', 'heuristic', 'C'],
        ['commit', 'refused', null],
      ],
    )
    assert.ok(rows[0].id > rows[1].id && Date.parse(rows[0].at) >= Date.parse(rows[1].at))
    assert.match(rows[0].actions.risks[0], /the protocol's outcome is abort/)
    const one = JSON.parse((await runCli(['audit', ...db, '--limit', '1', '--json'])).stdout)
    assert.equal(one.length, 1)
  })

  test('sequential ids keep no decision: the choice is applied when every branch is prepared, and is heuristic when one is prepared nowhere', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    const b = await fixture.markedPg(servers.postgres, 'b')
    const prepare = async (gtrid: string, which: readonly number[]) => {
      for (const index of which) {
        const client = await (index === 0 ? a : b).pool.connect()
        await client.query('BEGIN')
        await client.query(`INSERT INTO marks VALUES ('${gtrid}-${index}')`)
        await client.query(`PREPARE TRANSACTION '${gtrid}:2:${index}'`)
        client.release()
      }
    }
    const marks = async (gtrid: string) =>
      (
        await Promise.all(
          [a, b].map((each) =>
            each.pool.query('SELECT 1 FROM marks WHERE tx LIKE $1', [`${gtrid}-%`]),
          ),
        )
      ).map((result) => result.rows.length)
    const db = ['--db', `a=${a.url}`, '--db', `b=${b.url}`, ...CLI_DRIVERS.slice(0, 2)]
    const whole = `seq:${randomBytes(8).toString('hex')}`
    await prepare(whole, [0, 1])
    // No decision database: where the audit goes must be said.
    const noAuditDb = await runCli(['resolve', whole, ...db, '--commit', '--reason', 'r'])
    assert.equal(noAuditDb.code, 2, noAuditDb.stdout + noAuditDb.stderr)
    assert.match(noAuditDb.stderr, /--audit-db/)
    assert.equal((await runCli(['init', ...db, '--audit', '--audit-db', 'a'])).code, 0)
    const committed = await runCli([
      'resolve',
      whole,
      ...db,
      '--commit',
      '--reason',
      'r',
      '--audit-db',
      'a',
    ])
    assert.equal(committed.code, 0, committed.stdout + committed.stderr)
    assert.match(committed.stdout, /: RESOLVED: committed$/m)
    assert.match(committed.stdout, /^ {2}decision {3}none kept \(sequential protocol\)$/m)
    assert.deepEqual(await marks(whole), [1, 1])

    const half = `seq:${randomBytes(8).toString('hex')}`
    await prepare(half, [1])
    const refused = await runCli([
      'resolve',
      half,
      ...db,
      '--rollback',
      '--reason',
      'r',
      '--audit-db',
      'a',
    ])
    assert.equal(refused.code, 1, refused.stdout + refused.stderr)
    assert.match(
      refused.stdout,
      /risk {7}branch\(es\) 0 of 2 are prepared on none of the databases given/,
    )
    const forced = await runCli([
      'resolve',
      half,
      ...db,
      '--rollback',
      '--reason',
      'r',
      '--audit-db',
      'a',
      '--heuristic',
    ])
    assert.equal(forced.code, 0, forced.stdout + forced.stderr)
    assert.match(forced.stdout, /: HEURISTIC: rolled back$/m)
    assert.deepEqual(await marks(half), [0, 0])
    const listed = JSON.parse((await runCli(['audit', ...db, '--audit-db', 'a', '--json'])).stdout)
    assert.deepEqual(
      listed.map((row: { gtrid: string; outcome: string; recorded: null }) => [
        row.gtrid,
        row.outcome,
        row.recorded,
      ]),
      [
        [half, 'heuristic', null],
        [half, 'refused', null],
        [whole, 'resolved', null],
      ],
    )
  })

  test('usage errors exit 2 before any database is reached: no --reason, both or neither decision, an unknown option', async () => {
    const db = ['--db', 'a=postgres://u:secret@127.0.0.1:1/x']
    const id = 'txkit.0mwtqq4x0bb385a28af7b04f0'
    for (const args of [
      ['resolve', id, ...db, '--rollback'],
      ['resolve', id, ...db, '--rollback', '--reason', '  '],
      ['resolve', id, ...db, '--rollback', '--commit', '--reason', 'x'],
      ['resolve', id, ...db, '--reason', 'x'],
      ['resolve', id, ...db, '--rollback', '--reason', 'x', '--min-age', '1s'],
      ['resolve', 'not-an-id', ...db, '--rollback', '--reason', 'x'],
      ['audit', ...db, '--limit', '0'],
    ]) {
      const result = await runCli(args)
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`)
      assert.ok(!result.stderr.includes('secret'))
    }
  })
})
