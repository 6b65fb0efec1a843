import type {
  HeldLock,
  PreparedDetail,
  PreparedDetailDialect,
  WaitingSession,
} from '../dialect/prepared-detail.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { mysqlPreparedList } from './mysql-prepared-list.js'

interface DetachedRow {
  readonly trx_id: string | number
  readonly trx_rows_locked: string | number
  readonly trx_tables_locked: string | number
}

interface WaitRow {
  readonly blocking_trx_id: string | number
  readonly lock_table: string | null
  readonly lock_mode: string
  readonly lock_type: string
  readonly session: string | number
  readonly user: string | null
  readonly query: string | null
  readonly waiting_since: string | number | null
}

/** What XA RECOVER and InnoDB never tell, whatever the server. */
const NEVER_TOLD = ['the user that prepared it and when: XA RECOVER gives the id only']

/**
 * MariaDB (10.5+, checked on 10.11): `XA RECOVER` gives the id and nothing else. A prepared XA
 * transaction whose session ended is an InnoDB transaction with no session
 * (`INNODB_TRX.trx_mysql_thread_id = 0`), but nothing maps it to its XA id: the locks and waiters
 * shown are those of every such transaction, exact only when the server holds one prepared
 * transaction. `INNODB_LOCKS` lists a lock only while a session waits for it (with its holder's),
 * so the locks shown are those someone waits for; the count of row locks and tables comes from
 * `INNODB_TRX`. MySQL 8 has neither `INNODB_LOCKS` nor `INNODB_LOCK_WAITS`: there, only the ids.
 */
export const mysqlPreparedDetail: PreparedDetailDialect = {
  async describePrepared(connection, xids): Promise<PreparedDetail[]> {
    const all = (await mysqlPreparedList.listPrepared(connection)).map((each) => each.xid)
    const ours = xids.filter((xid) => all.includes(xid))
    if (ours.length === 0) return []
    const blocking = await blockingOf(connection).catch(() => undefined)
    if (blocking === undefined) {
      const unknown = [
        ...NEVER_TOLD,
        'its locks and the sessions waiting for them: this server offers no information_schema.INNODB_LOCK_WAITS (MySQL 8 keeps them in performance_schema.data_lock_waits, which txkit does not read), or this user lacks the PROCESS privilege',
      ]
      return ours.map((xid) => ({ xid, unknown }))
    }
    const { detached, waits } = blocking
    const exact = all.length === 1 && detached.length === 1
    const rows = detached.reduce((sum, row) => sum + Number(row.trx_rows_locked), 0)
    const tables = detached.reduce((sum, row) => sum + Number(row.trx_tables_locked), 0)
    const unknown = [
      ...NEVER_TOLD,
      `which locks it holds beyond those a session waits for (the server lists no others): ${exact ? 'it' : 'the prepared transactions without a session'} hold${exact ? 's' : ''} ${rows} row lock(s) on ${tables} table(s) in all`,
      ...(exact
        ? []
        : [
            `which InnoDB transaction is this XA id: the server holds ${all.length} prepared XA transaction(s), ${detached.length} of them without a session; the locks and waiters shown are those of all of them`,
          ]),
      'the locks of a prepared transaction still attached to its session: only those without a session are shown',
    ]
    const locks: HeldLock[] = []
    const waiting: WaitingSession[] = []
    for (const wait of waits) {
      const relation = wait.lock_table ?? undefined
      const lock = {
        type: wait.lock_type.toLowerCase(),
        mode: wait.lock_mode,
        ...(relation && { relation }),
      }
      if (!locks.some((each) => JSON.stringify(each) === JSON.stringify(lock))) locks.push(lock)
      waiting.push({
        session: Number(wait.session),
        ...(relation && { relation }),
        ...(wait.user !== null && { user: wait.user }),
        ...(wait.query !== null && { query: wait.query }),
        ...(wait.waiting_since !== null && { waitingSince: Number(wait.waiting_since) }),
      })
    }
    return ours.map((xid) => ({ xid, locks, waiting, unknown }))
  },
}

/** The InnoDB transactions without a session, and the sessions waiting for their locks. */
async function blockingOf(
  connection: DriverConnection,
): Promise<{ detached: DetachedRow[]; waits: WaitRow[] }> {
  const { rows: detached } = await connection.query<DetachedRow>(
    `SELECT trx_id, trx_rows_locked, trx_tables_locked FROM information_schema.INNODB_TRX
     WHERE trx_mysql_thread_id = 0`,
  )
  const { rows: waits } = await connection.query<WaitRow>(
    `SELECT w.blocking_trx_id, l.lock_table, l.lock_mode, l.lock_type,
            r.trx_mysql_thread_id AS session, p.USER AS user, LEFT(r.trx_query, 200) AS query,
            UNIX_TIMESTAMP(r.trx_wait_started) * 1000 AS waiting_since
     FROM information_schema.INNODB_LOCK_WAITS w
     JOIN information_schema.INNODB_LOCKS l ON l.lock_id = w.blocking_lock_id
     JOIN information_schema.INNODB_TRX r ON r.trx_id = w.requesting_trx_id
     JOIN information_schema.INNODB_TRX b ON b.trx_id = w.blocking_trx_id
     LEFT JOIN information_schema.PROCESSLIST p ON p.ID = r.trx_mysql_thread_id
     WHERE b.trx_mysql_thread_id = 0
     ORDER BY r.trx_mysql_thread_id`,
  )
  return { detached, waits }
}
