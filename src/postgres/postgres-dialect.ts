import {
  type AbortInsertOutcome,
  BranchOutsideTransaction,
  type DecisionInsertOutcome,
  type DecisionLogState,
  type DecisionRow,
  type Dialect,
  type FinishOutcome,
  type PreparedTransaction,
  type PrepareOutcome,
  RolledBackByServer,
  savepointSql,
  stampedCreation,
  UnconfirmedAnswer,
} from '../dialect/dialect.js'
import { SOCKET_ERROR_CODES, sqlState } from '../dialect/error-code.js'
import type { FenceClaim, FenceDialect, FenceKey } from '../dialect/fence-dialect.js'
import { quoteTableName, type TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { plainHead, type SqlSyntax, statementWords } from '../util/sql-statements.js'
import { postgresLockDialect } from './postgres-lock-dialect.js'
import { postgresPreflight } from './postgres-preflight.js'
import { postgresRunnerDialect } from './postgres-runner-dialect.js'

const UNDEFINED_OBJECT = '42704'
const UNDEFINED_TABLE = '42P01'
const UNIQUE_VIOLATION = '23505'
const OBJECT_NOT_IN_PREREQUISITE_STATE = '55000'
const LOCK_NOT_AVAILABLE = '55P03'
const CHECK_VIOLATION = '23514'
const SESSION_ENDED = new Set(['57P01', '57P02', '57P03'])

/**
 * A gid is a string literal in PREPARE / COMMIT PREPARED (no parameters there). txkit's own ids
 * are letters, digits and ._:~- ; anything else is refused rather than escaped.
 */
function gidLiteral(xid: string): string {
  if (!/^[A-Za-z0-9._:~-]{1,199}$/.test(xid)) {
    throw new TypeError(
      `Refusing to send an unexpected transaction id to PostgreSQL: ${JSON.stringify(xid)}`,
    )
  }
  return `'${xid}'`
}

/** A string literal for text txkit built itself from checked parts (ids, database names). */
function ownLiteral(text: string): string {
  if (!/^[A-Za-z0-9._:~\-[\]",]*$/.test(text)) {
    throw new TypeError(`Refusing to inline unexpected text into SQL: ${JSON.stringify(text)}`)
  }
  return `'${text}'`
}

/** A fence key's branch index, checked: it is written into SQL text. */
function fenceIndex(key: FenceKey): number {
  if (!Number.isInteger(key.index) || key.index < 0 || key.index > 999) {
    throw new TypeError(`Unexpected branch index ${String(key.index)}`)
  }
  return key.index
}

/** COMMIT / ROLLBACK PREPARED: 42704 is "does not exist", 55000 "is busy" (another session). */
function finishFailure(error: unknown): FinishOutcome {
  const code = sqlState(error)
  if (code === UNDEFINED_OBJECT) return 'not-found'
  if (code === OBJECT_NOT_IN_PREREQUISITE_STATE) return 'busy'
  throw error
}

const POSTGRES_SYNTAX: SqlSyntax = {
  backslashEscapes: 'e-strings',
  dollarQuotes: true,
  mysqlComments: false,
}

/** First words of the statements {@link postgresTransactionControl} may refuse. */
const POSTGRES_CONTROL_HEADS = new Set([
  'BEGIN',
  'COMMIT',
  'END',
  'ABORT',
  'START',
  'ROLLBACK',
  'PREPARE',
])

/**
 * The PostgreSQL statements that begin, end or hand over a transaction. `ROLLBACK [WORK |
 * TRANSACTION] TO [SAVEPOINT]` is a savepoint statement and stays allowed; `PREPARE name AS …`
 * prepares a statement, not the transaction.
 */
export function postgresTransactionControl(sql: string): string | undefined {
  const head = plainHead(sql)
  if (head !== undefined && !POSTGRES_CONTROL_HEADS.has(head)) return undefined
  for (const words of statementWords(sql, POSTGRES_SYNTAX)) {
    const [first = '', second = '', third = ''] = words
    switch (first) {
      case 'BEGIN':
      case 'COMMIT':
      case 'END':
      case 'ABORT':
        return second === 'PREPARED' ? `${first} PREPARED` : first
      case 'START':
        if (second === 'TRANSACTION') return 'START TRANSACTION'
        break
      case 'ROLLBACK':
        if (second !== 'TO' && third !== 'TO') {
          return second === 'PREPARED' ? 'ROLLBACK PREPARED' : 'ROLLBACK'
        }
        break
      case 'PREPARE':
        if (second === 'TRANSACTION') return 'PREPARE TRANSACTION'
        break
    }
  }
  return undefined
}

const DIVISION_BY_ZERO = '22012'
const IN_FAILED_SQL_TRANSACTION = '25P02'

/**
 * Marks the transaction txkit begins on a branch with its id, in a setting local to that
 * transaction: it ends with the transaction, so a COMMIT or ROLLBACK followed by a BEGIN that
 * txkit did not send leaves a transaction without it.
 */
function markBranch(xid: string): string {
  // SET takes no snapshot, so SET TRANSACTION ISOLATION LEVEL may still follow it.
  return `; SET LOCAL txkit.branch = ${gidLiteral(xid)}`
}

/**
 * Each branch session's count of transaction-control command tags right after txkit's own BEGIN
 * (and its own savepoint rollbacks): while the count is unchanged, nothing can have ended or
 * replaced the transaction, and the mark needs no checking.
 */
const tagsAtBegin = new WeakMap<DriverConnection, number>()

function noteOwnTags(connection: DriverConnection): void {
  const tags = connection.transactionTags?.()
  if (tags !== undefined) tagsAtBegin.set(connection, tags)
}

/**
 * Runs `statement` (PREPARE TRANSACTION, COMMIT, ROLLBACK) only inside the transaction txkit began
 * on this session: outside a transaction block all three merely warn, and in another transaction
 * they would act on work that is not the branch's. The status the protocol reported after the
 * last statement rules out "no transaction" for free; the mark, checked in the same message
 * (a division by zero when it differs), rules out "another transaction". The check is skipped when
 * the session answered no transaction-control statement since txkit's BEGIN.
 */
async function inOwnTransaction(connection: DriverConnection, xid: string, statement: string) {
  const status = connection.transactionStatus?.()
  if (status === 'idle') {
    throw new BranchOutsideTransaction(
      'the session is not inside a transaction: a COMMIT or ROLLBACK that txkit did not send ended it',
    )
  }
  // A failed transaction runs nothing but its end: PREPARE and COMMIT then answer ROLLBACK.
  if (status === 'failed') return connection.query(statement)
  const tags = connection.transactionTags?.()
  if (tags !== undefined && tags === tagsAtBegin.get(connection)) return connection.query(statement)
  try {
    return await connection.query(
      `SELECT 1 / (coalesce(current_setting('txkit.branch', true), '') = ${gidLiteral(xid)})::int; ${statement}`,
    )
  } catch (error) {
    const code = sqlState(error)
    if (code === DIVISION_BY_ZERO) {
      throw new BranchOutsideTransaction(
        'the session is inside another transaction than the one txkit began: a COMMIT or ROLLBACK and a BEGIN that txkit did not send replaced it',
      )
    }
    // A driver that does not report the status, on a failed transaction.
    if (code === IN_FAILED_SQL_TRANSACTION) return connection.query(statement)
    throw error
  }
}

/**
 * Runs `send` (a statement that commits or prepares), and does not take its success at face value
 * when PostgreSQL warned, along with it, that it stopped waiting for its synchronous standby (a
 * cancelled wait: `pg_cancel_backend`, a client's cancel request). PostgreSQL then answers success
 * although the change is only on this server: a failover to the standby would lose it. The warning
 * is recognised by its untranslated routine; drivers that do not show notices (postgres.js) cannot
 * be told.
 */
async function confirmedBySynchronousStandby<Result>(
  connection: DriverConnection,
  statement: string,
  send: () => Promise<Result>,
): Promise<Result> {
  let warning: string | undefined
  const stop = connection.onNotice?.((notice) => {
    if (notice.routine === 'SyncRepWaitForLSN') warning = notice.message
  })
  let result: Result
  try {
    result = await send()
  } finally {
    stop?.()
  }
  if (warning !== undefined) {
    throw new UnconfirmedAnswer(
      `PostgreSQL answered ${statement} with the warning "${warning}": it took effect on this server but may be missing on its synchronous standby, which a failover would promote`,
    )
  }
  return result
}

/**
 * Runs `work` in a transaction of its own whose lock waits end after `lockTimeoutMs`
 * (`LOCK_NOT_AVAILABLE`); rolled back if anything fails.
 */
async function withLockTimeout<Result>(
  connection: DriverConnection,
  lockTimeoutMs: number,
  work: () => Promise<Result>,
): Promise<Result> {
  await connection.query('BEGIN')
  try {
    await connection.query(`SET LOCAL lock_timeout = ${Math.max(1, Math.round(lockTimeoutMs))}`)
    const result = await work()
    await connection.query('COMMIT')
    return result
  } catch (error) {
    await connection.query('ROLLBACK')
    throw error
  }
}

/** A fence row as others see it: claimed by recovery, its branch's (committed), or none. */
async function readFence(
  connection: DriverConnection,
  table: TableName,
  key: FenceKey,
): Promise<'claimed' | 'committed' | undefined> {
  const { rows } = await connection.query<{ claimed: boolean }>(
    `SELECT claimed FROM ${quoteTableName(table, '"')} WHERE gtrid = $1 AND branch = $2`,
    [key.gtrid, fenceIndex(key)],
  )
  const row = rows[0]
  return row === undefined ? undefined : row.claimed ? 'claimed' : 'committed'
}

/**
 * PostgreSQL's fence rows (parallel protocol). The fence row travels with the branch's BEGIN in
 * one simple-query message: no round trip more than a plain BEGIN.
 */
const postgresFenceDialect: FenceDialect = {
  async begin(connection, xid, table, key) {
    await connection.query(
      `BEGIN${markBranch(xid)}; INSERT INTO ${quoteTableName(table, '"')} (gtrid, branch) VALUES (${ownLiteral(key.gtrid)}, ${fenceIndex(key)})`,
    )
    noteOwnTags(connection)
  },

  async createTable(connection, table) {
    await connection.query(this.tableSql(table).join(';\n'))
  },

  tableSql(table) {
    return [
      ...(table.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${table.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '"')} (
  gtrid varchar(64) NOT NULL,
  branch smallint NOT NULL,
  claimed boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (gtrid, branch)
)`,
    ]
  },

  async claim(connection, table, key, lockTimeoutMs): Promise<FenceClaim> {
    const name = quoteTableName(table, '"')
    try {
      return await withLockTimeout(connection, lockTimeoutMs, async () => {
        // A conflicting insert that is not yet committed (a live branch's) makes this one wait.
        const inserted = await connection.query(
          `INSERT INTO ${name} (gtrid, branch, claimed) VALUES ($1, $2, true) ON CONFLICT DO NOTHING RETURNING 1`,
          [key.gtrid, fenceIndex(key)],
        )
        if (inserted.rows.length === 1) return 'claimed'
        const found = await readFence(connection, table, key)
        return found === undefined ? 'gone' : found
      })
    } catch (error) {
      if (sqlState(error) === LOCK_NOT_AVAILABLE) return 'busy'
      throw error
    }
  },

  async showsCommitted(connection, table, key) {
    return (await readFence(connection, table, key)) === 'committed'
  },

  async delete(connection, table, keys) {
    if (keys.length === 0) return
    await connection.query(
      `DELETE FROM ${quoteTableName(table, '"')} f USING unnest($1::varchar[], $2::smallint[]) AS x(gtrid, branch)
       WHERE f.gtrid = x.gtrid AND f.branch = x.branch`,
      [keys.map((key) => key.gtrid), keys.map((key) => fenceIndex(key))],
    )
  },

  async deleteOlderThan(connection, table, olderThanMs, limit) {
    const name = quoteTableName(table, '"')
    const { rows } = await connection.query<{ found: boolean }>(
      'SELECT to_regclass($1) IS NOT NULL AS found',
      [name],
    )
    if (rows[0]?.found !== true) return 0
    const deleted = await connection.query(
      `DELETE FROM ${name} WHERE (gtrid, branch) IN (
         SELECT gtrid, branch FROM ${name}
         WHERE created_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000) LIMIT $2::int)`,
      [olderThanMs, limit],
    )
    return deleted.affectedRows ?? 0
  },
}

/** PostgreSQL: PREPARE TRANSACTION / COMMIT PREPARED, SQLSTATE error codes. */
export const postgresDialect: Dialect = {
  displayName: 'PostgreSQL',
  locks: postgresLockDialect,
  fences: postgresFenceDialect,
  preflight: postgresPreflight,
  async runnerDialect() {
    return postgresRunnerDialect
  },
  preparedBranchMayStayAttached: false,

  transactionControl: postgresTransactionControl,

  async begin(connection, xid) {
    // Simple-query protocol: the statements travel in one message and run in one transaction.
    // Pipelined with the branch's first statement where the driver can: should BEGIN fail, the
    // session is closed or its transaction failed, so no later statement can run outside it.
    const begin = `BEGIN${markBranch(xid)}`
    if (connection.defer !== undefined) connection.defer(begin)
    else await connection.query(begin)
    noteOwnTags(connection)
  },

  async beginWithDecision(connection, xid, table, gtrid, participants, pipeline) {
    // A failed INSERT fails the transaction, so nothing after it can commit: safe to pipeline.
    const begin = `BEGIN${markBranch(xid)}; INSERT INTO ${quoteTableName(table, '"')} (gtrid, outcome, participants) VALUES (${ownLiteral(gtrid)}, 'C', ${ownLiteral(participants)})`
    if (pipeline !== undefined && connection.defer !== undefined) {
      connection.defer(begin, pipeline.explain)
    } else {
      await connection.query(begin)
    }
    noteOwnTags(connection)
  },

  async prepare(connection, xid): Promise<PrepareOutcome> {
    // Outside a transaction block PREPARE TRANSACTION only warns and answers ROLLBACK, which would
    // report work committed behind txkit's back as rolled back.
    let result: Awaited<ReturnType<typeof inOwnTransaction>>
    try {
      result = await confirmedBySynchronousStandby(connection, 'PREPARE TRANSACTION', () =>
        inOwnTransaction(connection, xid, `PREPARE TRANSACTION ${gidLiteral(xid)}`),
      )
    } catch (error) {
      if (
        error instanceof BranchOutsideTransaction ||
        error instanceof UnconfirmedAnswer ||
        this.isConnectionLost(error)
      ) {
        throw error
      }
      // "If the PREPARE TRANSACTION command fails for any reason, it becomes a ROLLBACK."
      throw new RolledBackByServer(
        'PostgreSQL rolled the branch back: its PREPARE TRANSACTION failed',
        {
          cause: error,
        },
      )
    }
    // node-postgres reports the tag's first word, other drivers the whole tag. A transaction that
    // already failed (an error swallowed by user code) is rolled back instead: the tag says so.
    switch (result.command) {
      case 'PREPARE':
      case 'PREPARE TRANSACTION':
        return 'prepared'
      case 'ROLLBACK':
        return 'rolled-back'
      default:
        throw new UnconfirmedAnswer(
          `PostgreSQL answered PREPARE TRANSACTION with the command tag ${JSON.stringify(result.command ?? null)}, which says neither prepared nor rolled back`,
        )
    }
  },

  async commitOnePhase(connection, xid) {
    const result = await confirmedBySynchronousStandby(connection, 'COMMIT', () =>
      inOwnTransaction(connection, xid, 'COMMIT'),
    )
    switch (result.command) {
      case 'COMMIT':
        return 'committed'
      case 'ROLLBACK':
        return 'rolled-back'
      default:
        throw new UnconfirmedAnswer(
          `PostgreSQL answered COMMIT with the command tag ${JSON.stringify(result.command ?? null)}`,
        )
    }
  },

  async commitPrepared(connection, xid): Promise<FinishOutcome> {
    try {
      await connection.query(`COMMIT PREPARED ${gidLiteral(xid)}`)
      return 'done'
    } catch (error) {
      return finishFailure(error)
    }
  },

  async rollbackPrepared(connection, xid): Promise<FinishOutcome> {
    try {
      await connection.query(`ROLLBACK PREPARED ${gidLiteral(xid)}`)
      return 'done'
    } catch (error) {
      return finishFailure(error)
    }
  },

  async savepoint(connection, name, action) {
    const before = connection.transactionTags?.()
    await connection.query(savepointSql(name, action))
    // txkit's own ROLLBACK TO answers ROLLBACK: counted as its own, unless another statement's
    // tag slipped in meanwhile.
    if (action === 'rollback' && before !== undefined && before === tagsAtBegin.get(connection)) {
      if (connection.transactionTags?.() === before + 1) tagsAtBegin.set(connection, before + 1)
    }
  },

  async rollbackActive(connection, xid) {
    await inOwnTransaction(connection, xid, 'ROLLBACK')
  },

  async createDecisionLog(connection, table) {
    // Simple-query protocol: the whole script in one message.
    await connection.query(this.decisionLogSql(table).join(';\n'))
  },

  decisionLogSql(table) {
    const name = quoteTableName(table, '"')
    // PostgreSQL keeps no creation time: the script stamps it, with the database's clock, unless a
    // stamp is there. A table made earlier without one existed at least since its oldest row.
    return [
      ...(table.schema === undefined ? [] : [`CREATE SCHEMA IF NOT EXISTS "${table.schema}"`]),
      `CREATE TABLE IF NOT EXISTS ${name} (
  gtrid varchar(64) PRIMARY KEY,
  outcome char(1) NOT NULL CHECK (outcome IN ('C', 'A', 'S')),
  participants text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
)`,
      // A table made before the parallel protocol allows only 'C' and 'A': widened in place.
      `DO $txkit$
DECLARE
  refusing name;
BEGIN
  SELECT conname INTO refusing FROM pg_constraint
    WHERE conrelid = to_regclass('${name}') AND contype = 'c'
      AND pg_get_constraintdef(oid) LIKE '%outcome%' AND pg_get_constraintdef(oid) NOT LIKE '%''S''%';
  IF refusing IS NOT NULL THEN
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I, ADD CONSTRAINT %I CHECK (outcome IN (''C'', ''A'', ''S''))', '${name}', refusing, refusing);
  END IF;
  IF coalesce(obj_description(to_regclass('${name}'), 'pg_class'), '') NOT LIKE '%created_ms=%' THEN
    EXECUTE format('COMMENT ON TABLE %s IS %L', '${name}', 'txkit decision log; created_ms=' ||
      floor(extract(epoch FROM least(clock_timestamp(), (SELECT min(created_at) FROM ${name}))) * 1000)::bigint);
  END IF;
END
$txkit$`,
    ]
  },

  async describeDecisionLog(connection, table): Promise<DecisionLogState | undefined> {
    const { rows } = await connection.query<{ found: boolean; comment: string | null }>(
      `SELECT to_regclass($1) IS NOT NULL AS found, obj_description(to_regclass($1), 'pg_class') AS comment`,
      [quoteTableName(table, '"')],
    )
    if (rows[0]?.found !== true) return undefined
    return { createdAt: stampedCreation(rows[0].comment) }
  },

  async insertCommitDecision(
    connection: DriverConnection,
    table: TableName,
    gtrid: string,
    participants: string,
    deadline: number,
    outcome: 'C' | 'S' = 'C',
    session?: number,
  ): Promise<DecisionInsertOutcome> {
    // In the session taken for it, or nowhere: a division by zero otherwise (no round trip more).
    const inSession = session === undefined ? '' : ' AND 1 / (pg_backend_pid() = $5::int)::int = 1'
    try {
      const result = await confirmedBySynchronousStandby(connection, 'the decision INSERT', () =>
        connection.query(
          `INSERT INTO ${quoteTableName(table, '"')} (gtrid, outcome, participants)
           SELECT $1, $4::char, $2 WHERE extract(epoch FROM clock_timestamp()) * 1000 < $3::float8${inSession}`,
          [gtrid, participants, deadline, outcome, ...(session === undefined ? [] : [session])],
        ),
      )
      return result.affectedRows === 1 ? 'inserted' : 'deadline-passed'
    } catch (error) {
      if (sqlState(error) === UNIQUE_VIOLATION) return 'already-decided'
      if (session !== undefined && sqlState(error) === DIVISION_BY_ZERO) {
        throw new Error(
          `txkit: the decision row was not written: the connection it was sent on no longer holds the session taken for it (backend ${session}); it changed hands`,
          { cause: error },
        )
      }
      throw error
    }
  },

  async resolveStagedDecision(connection, table, gtrid, outcome) {
    const result = await connection.query(
      `UPDATE ${quoteTableName(table, '"')} SET outcome = $2::char WHERE gtrid = $1 AND outcome = 'S'`,
      [gtrid, outcome],
    )
    return result.affectedRows === 1
  },

  preparedListScope: 'database',

  async listPrepared(connection): Promise<PreparedTransaction[]> {
    const { rows } = await connection.query<{ gid: string; prepared_at: string }>(
      `SELECT gid, (extract(epoch FROM prepared) * 1000)::float8 AS prepared_at
       FROM pg_prepared_xacts WHERE database = current_database()`,
    )
    return rows.map((row) => ({ xid: row.gid, preparedAt: Number(row.prepared_at) }))
  },

  async isPrepared(connection, xid): Promise<boolean> {
    const { rows } = await connection.query(
      'SELECT 1 FROM pg_prepared_xacts WHERE gid = $1 AND database = current_database()',
      [xid],
    )
    return rows.length > 0
  },

  async readDecisions(connection, table, gtrids): Promise<DecisionRow[]> {
    if (gtrids.length === 0) return []
    const { rows } = await connection.query<DecisionRow>(
      `SELECT gtrid, outcome, participants FROM ${quoteTableName(table, '"')} WHERE gtrid = ANY($1::varchar[])`,
      [gtrids],
    )
    return rows
  },

  async readOldDecisions(connection, table, olderThanMs, limit): Promise<DecisionRow[]> {
    const { rows } = await connection.query<DecisionRow>(
      `SELECT gtrid, outcome, participants FROM ${quoteTableName(table, '"')}
       WHERE created_at < clock_timestamp() - make_interval(secs => $1::float8 / 1000)
       ORDER BY created_at LIMIT $2::int`,
      [olderThanMs, limit],
    )
    return rows
  },

  async insertAbortDecision(
    connection: DriverConnection,
    table: TableName,
    gtrid: string,
    participants: string,
    lockTimeoutMs: number,
  ): Promise<AbortInsertOutcome> {
    try {
      return await withLockTimeout(
        connection,
        lockTimeoutMs,
        async (): Promise<AbortInsertOutcome> => {
          await connection.query(
            `INSERT INTO ${quoteTableName(table, '"')} (gtrid, outcome, participants) VALUES ($1, 'A', $2)`,
            [gtrid, participants],
          )
          return 'inserted'
        },
      )
    } catch (error) {
      const code = sqlState(error)
      if (code === UNIQUE_VIOLATION) return 'exists'
      if (code === LOCK_NOT_AVAILABLE) return 'busy'
      throw error
    }
  },

  async deleteDecisions(connection, table, rows) {
    if (rows.length === 0) return
    await connection.query(
      `DELETE FROM ${quoteTableName(table, '"')} d USING unnest($1::varchar[], $2::char[]) AS x(gtrid, outcome)
       WHERE d.gtrid = x.gtrid AND d.outcome = x.outcome`,
      [rows.map((row) => row.gtrid), rows.map((row) => row.outcome)],
    )
  },

  async notify(connection, channel, payload) {
    // pg_notify takes the channel as a value: no identifier to quote, nothing to inject.
    await connection.query('SELECT pg_notify($1, $2)', [channel, payload])
  },

  async now(connection) {
    const { rows } = await connection.query<{ now: string }>(
      'SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now',
    )
    return Number(rows[0]?.now)
  },

  isConnectionLost(error) {
    const code = sqlState(error)
    if (code === undefined) return false
    return code.startsWith('08') || SESSION_ENDED.has(code) || SOCKET_ERROR_CODES.has(code)
  },

  isUndefinedTable(error) {
    return sqlState(error) === UNDEFINED_TABLE
  },

  isOutcomeRefused(error) {
    return sqlState(error) === CHECK_VIOLATION
  },

  async explainPrepareFailure(connection, error) {
    if (sqlState(error) !== OBJECT_NOT_IN_PREREQUISITE_STATE) return undefined
    // 55000 has other causes (temporary tables, LISTEN): ask the server rather than the message.
    const { rows } = await connection.query<{ max: string }>(
      `SELECT current_setting('max_prepared_transactions') AS max`,
    )
    if (rows[0]?.max !== '0') return undefined
    return (
      'PostgreSQL has max_prepared_transactions = 0, which disables two-phase commit. ' +
      'Set max_prepared_transactions > 0 (at least max_connections) in postgresql.conf and restart the server.'
    )
  },
}
