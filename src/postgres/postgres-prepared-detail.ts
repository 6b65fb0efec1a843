import type {
  HeldLock,
  PreparedDetail,
  PreparedDetailDialect,
  WaitingSession,
} from '../dialect/prepared-detail.js'

interface PreparedRow {
  readonly gid: string
  readonly owner: string
  readonly prepared_at: string | number
}

interface LockRow {
  readonly gid: string
  readonly locktype: string
  readonly mode: string
  readonly relation: string | null
}

interface WaiterRow {
  readonly gid: string
  readonly pid: number | string
  readonly relation: string | null
  readonly usename: string | null
  readonly query: string | null
  readonly waiting_since: string | number | null
}

/**
 * The virtual transaction of each prepared transaction of `$1` (gids): the holder, with no process,
 * of the exclusive lock on its transaction id. (It was `-1/<xid>` before PostgreSQL 17; 17 names
 * a dummy process's slot, so it is found, not built.)
 */
const HOLDERS = `
  SELECT p.gid, l.virtualtransaction AS vxid
  FROM pg_prepared_xacts p
  JOIN pg_locks l ON l.locktype = 'transactionid' AND l.transactionid = p.transaction
   AND l.mode = 'ExclusiveLock' AND l.granted AND l.pid IS NULL
  WHERE p.database = current_database() AND p.gid = ANY($1::text[])`

/**
 * The sessions waiting for a lock a prepared transaction holds: an ungranted lock on the same
 * object as one of its granted locks (a row's waiter waits on the holder's transaction id).
 * `pg_blocking_pids()` of a session waiting behind a prepared transaction answers 0, which names
 * no transaction, so the match is made on the locks themselves. The relation of a waiter on a
 * transaction id is the one of the row lock (tuple) it holds while it waits, else of a table it
 * has locked.
 */
const WAITERS = `
  SELECT DISTINCT ON (h.gid, w.pid) h.gid, w.pid,
         coalesce(w.relation::regclass::text, (
           SELECT o.relation::regclass::text FROM pg_locks o
           WHERE o.pid = w.pid AND o.relation IS NOT NULL AND o.granted
             AND o.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           ORDER BY (o.locktype = 'tuple') DESC,
                    (SELECT c.relkind IN ('r', 'p') FROM pg_class c WHERE c.oid = o.relation) DESC
           LIMIT 1)) AS relation,
         a.usename, left(a.query, 200) AS query,
         (extract(epoch FROM coalesce(w.waitstart, a.query_start)) * 1000)::float8 AS waiting_since
  FROM (SELECT l.*, x.gid FROM (${HOLDERS}) x
        JOIN pg_locks l ON l.virtualtransaction = x.vxid AND l.pid IS NULL AND l.granted) h
  JOIN pg_locks w ON NOT w.granted AND w.locktype = h.locktype
   AND w.database IS NOT DISTINCT FROM h.database AND w.relation IS NOT DISTINCT FROM h.relation
   AND w.page IS NOT DISTINCT FROM h.page AND w.tuple IS NOT DISTINCT FROM h.tuple
   AND w.transactionid IS NOT DISTINCT FROM h.transactionid
   AND w.classid IS NOT DISTINCT FROM h.classid AND w.objid IS NOT DISTINCT FROM h.objid
   AND w.objsubid IS NOT DISTINCT FROM h.objsubid
  LEFT JOIN pg_stat_activity a ON a.pid = w.pid
  ORDER BY h.gid, w.pid`

/** PostgreSQL: `pg_prepared_xacts` (owner, prepared time), `pg_locks`, `pg_stat_activity`. */
export const postgresPreparedDetail: PreparedDetailDialect = {
  async describePrepared(connection, xids): Promise<PreparedDetail[]> {
    if (xids.length === 0) return []
    const { rows: prepared } = await connection.query<PreparedRow>(
      `SELECT gid, owner, (extract(epoch FROM prepared) * 1000)::float8 AS prepared_at
       FROM pg_prepared_xacts WHERE database = current_database() AND gid = ANY($1::text[])`,
      [xids],
    )
    if (prepared.length === 0) return []
    const gids = prepared.map((row) => row.gid)
    const { rows: locks } = await connection.query<LockRow>(
      `SELECT x.gid, l.locktype, l.mode,
              CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation
       FROM (${HOLDERS}) x
       JOIN pg_locks l ON l.virtualtransaction = x.vxid AND l.pid IS NULL AND l.granted
       ORDER BY 1, 4 NULLS LAST, 2, 3`,
      [gids],
    )
    const { rows: waiters } = await connection.query<WaiterRow>(WAITERS, [gids])
    return prepared.map((row) => ({
      xid: row.gid,
      owner: row.owner,
      preparedAt: Number(row.prepared_at),
      locks: locks
        .filter((lock) => lock.gid === row.gid)
        .map(
          (lock): HeldLock => ({
            type: lock.locktype,
            mode: lock.mode,
            ...(lock.relation !== null && { relation: lock.relation }),
          }),
        ),
      waiting: waiters
        .filter((waiter) => waiter.gid === row.gid)
        .map(
          (waiter): WaitingSession => ({
            session: Number(waiter.pid),
            ...(waiter.relation !== null && { relation: waiter.relation }),
            ...(waiter.usename !== null && { user: waiter.usename }),
            ...(waiter.query !== null && { query: waiter.query }),
            ...(waiter.waiting_since !== null && { waitingSince: Number(waiter.waiting_since) }),
          }),
        ),
      unknown: [],
    }))
  },
}
