/**
 * `txkit show <gtrid>`: what an operator reads of one in-doubt transaction, on real servers.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import mysql from 'mysql2/promise'
import pg from 'pg'
import { serversForFile } from '../../harness/file-servers.js'
import { CLI_DRIVERS, inDoubtAcrossThree, passwordsOf } from '../../harness/in-doubt-deployment.js'
import { runCli } from '../../harness/run-cli.js'
import { waitFor } from '../../harness/wait-for.js'

const servers = serversForFile()
const { fixture } = servers

describe('txkit show', () => {
  test('a transaction in doubt on PostgreSQL and MariaDB: its branches, its decision row, the session waiting behind it; finished after recover', async (t) => {
    // The coordinator dies right after its decision: a committed its 'C' row, b and m are prepared.
    const setup = await inDoubtAcrossThree(servers, {
      prefix: 'shown',
      marker: 'show-1',
      when: 'after',
    })
    if (setup === undefined) return t.skip('no MariaDB')
    const { a, b, m, mUrl, gid, gtrid } = setup

    // Two sessions wait behind the prepared branches: one on b, one on MariaDB.
    const blocked = new pg.Client({ connectionString: b.url })
    await blocked.connect()
    const blockedPid = (await blocked.query<{ pid: number }>('SELECT pg_backend_pid() AS pid'))
      .rows[0]?.pid
    const pgWait = blocked
      .query('UPDATE accounts SET balance = 0 WHERE id = 1')
      .catch((e: Error) => e)
    await waitFor('the UPDATE on b to wait for its lock', 20_000, async () => {
      const { rows } = await b.pool.query(
        "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'",
        [blockedPid],
      )
      return rows.length > 0
    })
    const blockedM = await mysql.createConnection(mUrl)
    await blockedM.query('SET SESSION innodb_lock_wait_timeout = 120')
    const [[{ id: blockedMId }]] = (await blockedM.query(
      'SELECT CONNECTION_ID() AS id',
    )) as unknown as [[{ id: number }]]
    const mWait = blockedM
      .query('UPDATE accounts SET balance = 0 WHERE id = 1')
      .catch((e: Error) => e)
    await waitFor('the UPDATE on MariaDB to wait for its lock', 20_000, async () => {
      const [found] = await m.pool.query<mysql.RowDataPacket[]>(
        "SELECT 1 FROM information_schema.INNODB_TRX WHERE trx_mysql_thread_id = ? AND trx_state = 'LOCK WAIT'",
        [blockedMId],
      )
      return found.length > 0
    })

    const db = ['--db', `a=${a.url}`, '--db', `b=${b.url}`, '--db', `m=${mUrl}`, ...CLI_DRIVERS]
    const shown = await runCli(['show', gtrid, ...db, '--decision-log', 'a'])
    assert.equal(shown.code, 3, shown.stdout + shown.stderr)
    const text = shown.stdout
    assert.match(text, new RegExp(`^Transaction ${gtrid.replace(/\./g, '\\.')}$`, 'm'))
    assert.match(text, /^ {2}protocol {3}decision/m)
    assert.match(text, /^ {2}state {6}IN DOUBT: 2 branch\(es\) prepared$/m)
    assert.match(text, /^ {2}decision {3}'C': commit, in table txkit_decision of database a$/m)
    assert.match(text, /^ {2}a {2}no branch prepared$/m)
    assert.match(text, /^ {2}b {2}prepared$/m)
    assert.match(text, /^ {2}m {2}prepared$/m)
    assert.match(text, /^Branch \d of 3 on b \(the decision row names b\): PREPARED$/m)
    assert.match(text, /^ {2}prepared by {2}\S+$/m)
    assert.match(
      text,
      new RegExp(
        `^ {2}WAITING {6}session ${blockedPid} \\(\\S+\\) on accounts for \\S+: UPDATE accounts SET balance = 0 WHERE id = 1$`,
        'm',
      ),
    )
    assert.match(
      text,
      new RegExp(
        `^ {2}WAITING {6}session ${blockedMId} \\(\\S+\\) on \`[^\`]+\`\\.\`accounts\` for \\S+: UPDATE accounts SET balance = 0 WHERE id = 1$`,
        'm',
      ),
    )
    // What MariaDB does not tell is said, not left blank.
    assert.match(
      text,
      /not told {5}the user that prepared it and when: XA RECOVER gives the id only/,
    )

    const json = await runCli(['show', gtrid, ...db, '--decision-log', 'a', '--json'])
    assert.equal(json.code, 3, json.stderr)
    const detail = JSON.parse(json.stdout)
    assert.deepEqual(Object.keys(detail).sort(), [
      'ageMs',
      'branches',
      'databases',
      'decision',
      'gtrid',
      'protocol',
      'startedAt',
      'state',
    ])
    assert.equal(detail.gtrid, gtrid)
    assert.equal(detail.protocol, 'decision')
    assert.equal(detail.state, 'in-doubt')
    assert.deepEqual(detail.decision, {
      kept: 'decision-log',
      database: 'a',
      table: 'txkit_decision',
      outcome: 'C',
    })
    assert.deepEqual(detail.databases, [
      { name: 'a', state: 'not-found' },
      { name: 'b', state: 'prepared' },
      { name: 'm', state: 'prepared' },
    ])
    const onB = detail.branches.find((branch: { database: string }) => branch.database === 'b')
    assert.equal(onB.xid, gid)
    assert.equal(onB.count, 3)
    assert.equal(onB.participant, 'b')
    assert.equal(typeof onB.owner, 'string')
    assert.ok(Math.abs(onB.preparedAt - Date.now()) < 120_000, String(onB.preparedAt))
    assert.ok(
      onB.locks.some(
        (lock: { relation?: string; mode: string }) =>
          lock.relation === 'accounts' && lock.mode === 'RowExclusiveLock',
      ),
      JSON.stringify(onB.locks),
    )
    assert.deepEqual(
      onB.waiting.map((waiter: { session: number; relation: string }) => [
        waiter.session,
        waiter.relation,
      ]),
      [[blockedPid, 'accounts']],
    )
    assert.deepEqual(onB.unknown, [])
    const onM = detail.branches.find((branch: { database: string }) => branch.database === 'm')
    assert.equal(onM.owner, undefined)
    assert.equal(onM.preparedAt, undefined)
    assert.deepEqual(
      onM.waiting.map((waiter: { session: number }) => waiter.session),
      [blockedMId],
    )
    assert.match(onM.waiting[0].relation, /`accounts`$/)
    assert.ok(onM.unknown.length > 0)

    // recover finishes it; the waiting sessions go on; show says it is finished.
    const recovered = await runCli([
      'recover',
      ...db,
      '--decision-log',
      'a',
      '--prefix',
      'shown',
      '--min-age',
      '0s',
    ])
    assert.equal(recovered.code, 0, recovered.stdout + recovered.stderr)
    assert.ok(!((await pgWait) instanceof Error))
    assert.ok(!((await mWait) instanceof Error))
    await blocked.end()
    await blockedM.end()
    const after = await runCli(['show', gtrid, ...db, '--decision-log', 'a'])
    assert.equal(after.code, 0, after.stdout + after.stderr)
    assert.match(after.stdout, /^ {2}state {6}finished: no branch prepared$/m)
    assert.doesNotMatch(after.stdout, /^Branch /m)

    for (const password of passwordsOf(a.url, b.url, mUrl)) {
      for (const output of [shown, json, recovered, after]) {
        assert.ok(!output.stdout.includes(password) && !output.stderr.includes(password))
      }
    }
  })

  test('a sequential transaction prepared by hand: no decision kept, its age from the prepare, nothing waiting', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    const b = await fixture.markedPg(servers.postgres, 'b')
    const gtrid = `seq:${randomBytes(8).toString('hex')}`
    for (const [index, database] of [a, b].entries()) {
      const client = await database.pool.connect()
      await client.query('BEGIN')
      await client.query(`INSERT INTO marks VALUES ('seq-${index}')`)
      await client.query(`PREPARE TRANSACTION '${gtrid}:2:${index}'`)
      client.release()
    }
    const db = ['--db', `a=${a.url}`, '--db', `b=${b.url}`, ...CLI_DRIVERS.slice(0, 2)]
    const shown = await runCli(['show', gtrid, ...db])
    assert.equal(shown.code, 3, shown.stdout + shown.stderr)
    assert.match(shown.stdout, /^ {2}protocol {3}sequential$/m)
    assert.match(shown.stdout, /^ {2}began {6}unknown \(a sequential id carries no time\)$/m)
    assert.match(shown.stdout, /^ {2}decision {3}none kept \(sequential protocol\)$/m)
    assert.match(shown.stdout, /^Branch 0 of 2 on a: PREPARED$/m)
    assert.match(shown.stdout, /^Branch 1 of 2 on b: PREPARED$/m)
    assert.match(shown.stdout, /^ {2}waiting {6}no session waits for it$/m)
    const json = await runCli(['show', `${gtrid}:2:1`, ...db, '--json'])
    assert.equal(json.code, 3, json.stderr)
    const detail = JSON.parse(json.stdout)
    assert.equal(detail.gtrid, gtrid, 'a branch id names its transaction')
    assert.equal(detail.startedAt, undefined)
    assert.ok(detail.ageMs >= 0 && detail.ageMs < 120_000, String(detail.ageMs))
    assert.equal(detail.decision.kept, 'none')
    assert.match(detail.decision.note, /records no decision/)
    assert.deepEqual(
      detail.branches.map((branch: { database: string; index: number }) => [
        branch.database,
        branch.index,
      ]),
      [
        ['a', 0],
        ['b', 1],
      ],
    )
    const otherPrefix = await runCli(['show', gtrid, ...db, '--prefix', 'billing'])
    assert.equal(otherPrefix.code, 2, otherPrefix.stdout + otherPrefix.stderr)
    assert.match(otherPrefix.stderr, /prefix is "seq", not the prefix "billing"/)
    await a.pool.query(`ROLLBACK PREPARED '${gtrid}:2:0'`)
    await b.pool.query(`ROLLBACK PREPARED '${gtrid}:2:1'`)
    const after = await runCli(['show', gtrid, ...db])
    assert.equal(after.code, 0, after.stdout + after.stderr)
    assert.match(after.stdout, /No branch and no decision found/)
  })

  test('a bad id is a usage error saying what an id looks like; an unknown one says nothing was found', async () => {
    const a = await fixture.markedPg(servers.postgres, 'a')
    const db = ['--db', `a=${a.url}`, ...CLI_DRIVERS.slice(0, 2)]
    const bad = await runCli(['show', 'not-an-id', ...db])
    assert.equal(bad.code, 2, bad.stdout + bad.stderr)
    assert.match(bad.stderr, /is not a txkit transaction id: a txkit transaction id is <prefix>\./)
    // Refused before any database is connected: exit 2 even when one is unreachable.
    const unreachable = await runCli([
      'show',
      'txkit.nope',
      '--db',
      'x=postgres://someone:s3cret-pw@127.0.0.1:1/x',
    ])
    assert.equal(unreachable.code, 2, unreachable.stdout + unreachable.stderr)
    assert.doesNotMatch(unreachable.stdout + unreachable.stderr, /s3cret-pw/)
    // A database that cannot be read: exit 1, and nothing is called finished.
    const unread = await runCli([
      'show',
      'txkit:4f9c2a1b0e3d7788',
      '--db',
      'x=postgres://someone:s3cret-pw@127.0.0.1:1/x',
      ...CLI_DRIVERS.slice(0, 2),
      '--connect-timeout',
      '2s',
      '--json',
    ])
    assert.equal(unread.code, 1, unread.stdout + unread.stderr)
    assert.doesNotMatch(unread.stdout + unread.stderr, /s3cret-pw/)
    const unreadDetail = JSON.parse(unread.stdout)
    assert.equal(unreadDetail.state, 'unknown')
    assert.equal(unreadDetail.databases[0].state, 'error')
    assert.match(unreadDetail.databases[0].error, /127\.0\.0\.1:1/)
    const help = await runCli(['show', '--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /^Usage: txkit show <gtrid>/)
    const none = await runCli(['show', ...db])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /txkit show takes one transaction id/)
    const unknownOption = await runCli(['show', 'txkit:4f9c2a1b0e3d7788', ...db, '--min-age', '1s'])
    assert.equal(unknownOption.code, 2)
    assert.match(unknownOption.stderr, /does not take --min-age/)
    const unknown = await runCli(['show', 'txkit:4f9c2a1b0e3d7788', ...db])
    assert.equal(unknown.code, 0, unknown.stdout + unknown.stderr)
    assert.match(unknown.stdout, /decision {3}none kept \(sequential protocol\)/)
    assert.match(unknown.stdout, /state {6}finished: no branch prepared/)
    const noLog = await runCli(['show', 'txkit.0mwtqq4x0bb385a28af7b04f0.ledger', ...db, '--json'])
    assert.equal(noLog.code, 1, noLog.stdout + noLog.stderr)
    assert.match(
      JSON.parse(noLog.stdout).decision.error,
      /names the decision log "ledger", which was not given/,
    )
  })
})
