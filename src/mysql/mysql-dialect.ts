import {
  type AbortInsertOutcome,
  BranchOutsideTransaction,
  type DecisionInsertOutcome,
  type DecisionLogState,
  type DecisionRow,
  type Dialect,
  type FinishOutcome,
  type PreparedTransaction,
  savepointSql,
  stampedCreation,
} from '../dialect/dialect.js'
import { errno, findErrorProperty, SOCKET_ERROR_CODES } from '../dialect/error-code.js'
import { quoteTableName, type TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { plainHead, type SqlSyntax, statementWords } from '../util/sql-statements.js'
import { withLockWait } from './lock-wait.js'
import { mysqlFenceDialect } from './mysql-fence-dialect.js'
import { queryFlavour } from './mysql-flavour.js'
import { mysqlLockDialect } from './mysql-lock-dialect.js'
import { mysqlPreflight } from './mysql-preflight.js'
import { mysqlRunnerDialect } from './mysql-runner-dialect.js'
import { xaXid } from './xa-xid.js'

const ER_XAER_NOTA = 1397
const ER_DUP_ENTRY = 1062
const ER_NO_SUCH_TABLE = 1146
const ER_LOCK_WAIT_TIMEOUT = 1205
const ER_LOCK_DEADLOCK = 1213
const CONNECTION_LOST_ERRNOS = new Set([
  1053, // ER_SERVER_SHUTDOWN
  1927, // ER_CONNECTION_KILLED (MariaDB)
  2006, // CR_SERVER_GONE_ERROR
  2013, // CR_SERVER_LOST
  4031, // ER_CLIENT_INTERACTION_TIMEOUT (MySQL 8)
])
const CONNECTION_LOST_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST', // mysql2
  'ER_CONNECTION_KILLED',
  'ER_SERVER_SHUTDOWN',
  'ER_SOCKET_UNEXPECTED_CLOSE', // the mariadb connector
  'ER_CONNECTION_ALREADY_CLOSED',
  'ER_CMD_CONNECTION_CLOSED',
  'ER_SOCKET_TIMEOUT',
  ...SOCKET_ERROR_CODES,
])

interface XaRecoverRow {
  readonly formatID: number | string
  readonly gtrid_length: number | string
  readonly bqual_length: number | string
  readonly data: Buffer | string
}

/**
 * txkit's (and SQLAlchemy's) ids are formatID 1 with an empty bqual: the id is the gtrid. Anything
 * else is rendered as `xa:<formatID>:<hex>`, which never parses as ours.
 */
function xidOfRecoverRow(row: XaRecoverRow): string {
  const data = typeof row.data === 'string' ? Buffer.from(row.data, 'binary') : row.data
  const gtridLength = Number(row.gtrid_length)
  if (Number(row.formatID) === 1 && Number(row.bqual_length) === 0) {
    const gtrid = data.subarray(0, gtridLength)
    if (gtrid.every((byte) => byte >= 0x20 && byte < 0x7f)) return gtrid.toString('latin1')
  }
  return `xa:${row.formatID}:${data.toString('hex')}`
}

const MYSQL_SYNTAX: SqlSyntax = {
  backslashEscapes: 'always',
  dollarQuotes: false,
  mysqlComments: true,
}

/** Statements MySQL and MariaDB precede with an implicit COMMIT (their "implicit commit" lists). */
const IMPLICIT_COMMIT = new Set([
  'ALTER',
  'ANALYZE',
  'CACHE',
  'CHANGE',
  'CHECK',
  'FLUSH',
  'GRANT',
  'INSTALL',
  'LOCK',
  'OPTIMIZE',
  'RENAME',
  'REPAIR',
  'RESET',
  'REVOKE',
  'TRUNCATE',
  'UNINSTALL',
  'UNLOCK',
])
/** First words of the statements {@link mysqlTransactionControl} may refuse. */
const MYSQL_CONTROL_HEADS: ReadonlySet<string> = new Set([
  ...IMPLICIT_COMMIT,
  'BEGIN',
  'COMMIT',
  'XA',
  'START',
  'ROLLBACK',
  'SET',
  'CREATE',
  'DROP',
  'LOAD',
])
const AUTOCOMMIT = /^(@@(SESSION\.|LOCAL\.)?)?AUTOCOMMIT$/

/**
 * The MySQL/MariaDB statements that begin, end or hand over a transaction, including the ones
 * that commit implicitly (DDL other than on temporary tables, LOCK TABLES, …) and `SET
 * autocommit`. `ROLLBACK [WORK] TO [SAVEPOINT]` is a savepoint statement and stays allowed.
 */
export function mysqlTransactionControl(sql: string): string | undefined {
  const head = plainHead(sql)
  if (head !== undefined && !MYSQL_CONTROL_HEADS.has(head)) return undefined
  for (const words of statementWords(sql, MYSQL_SYNTAX)) {
    const [first = '', second = '', third = ''] = words
    switch (first) {
      case 'BEGIN':
      case 'COMMIT':
      case 'XA':
        return first === 'XA' ? `XA ${second}`.trim() : first
      case 'START':
        if (second === 'TRANSACTION') return 'START TRANSACTION'
        break
      case 'ROLLBACK':
        if (second !== 'TO' && third !== 'TO') return 'ROLLBACK'
        break
      case 'SET':
        if (
          words.some(
            (word, at) => AUTOCOMMIT.test(word) && ['=', '·'].includes(words[at + 1] ?? ''),
          )
        ) {
          return 'SET autocommit'
        }
        if (second === 'PASSWORD') return 'SET PASSWORD (an implicit COMMIT)'
        break
      case 'CREATE':
      case 'DROP':
        if (second !== 'TEMPORARY') return `${first} ${second} (an implicit COMMIT)`.trim()
        break
      case 'LOAD':
        if (second === 'INDEX') return 'LOAD INDEX (an implicit COMMIT)'
        break
      default:
        if (IMPLICIT_COMMIT.has(first)) return `${first} (an implicit COMMIT)`
    }
  }
  return undefined
}

async function finishPrepared(
  connection: DriverConnection,
  verb: 'COMMIT' | 'ROLLBACK',
  xid: string,
): Promise<FinishOutcome> {
  try {
    await connection.query(`XA ${verb} ${xaXid(xid)}`)
    return 'done'
  } catch (error) {
    if (errno(error) === ER_XAER_NOTA) return 'not-found'
    throw error
  }
}

/**
 * MySQL 8 and MariaDB 10.5+: XA START … XA PREPARE / XA COMMIT, errno error codes. Written from
 * the MySQL documentation and tested against MariaDB.
 */
export const mysqlDialect: Dialect = {
  displayName: 'MySQL/MariaDB',
  locks: mysqlLockDialect,
  fences: mysqlFenceDialect,
  preflight: mysqlPreflight,
  async runnerDialect(connection) {
    return mysqlRunnerDialect(await queryFlavour(connection))
  },
  preparedBranchMayStayAttached: true,

  transactionControl: mysqlTransactionControl,

  async begin(connection, xid) {
    // Every branch is an XA branch, even one that commits in one phase: in the XA ACTIVE state the
    // server itself refuses COMMIT, ROLLBACK, BEGIN and statements that commit implicitly.
    await connection.query(`XA START ${xaXid(xid)}`)
  },

  async prepare(connection, xid) {
    // A failed XA END (rollback-only after a deadlock, or no XA transaction at all) is told apart
    // by the XA ROLLBACK that rolls the branch back next.
    await connection.query(`XA END ${xaXid(xid)}`)
    await connection.query(`XA PREPARE ${xaXid(xid)}`)
    return 'prepared'
  },

  async commitOnePhase(connection, xid) {
    try {
      await connection.query(`XA END ${xaXid(xid)}`)
    } catch (error) {
      if (this.isConnectionLost(error)) throw error
      // Rollback-only (a deadlock) or no XA transaction at all: XA ROLLBACK tells which, throwing
      // BranchOutsideTransaction for the latter; either way nothing of it commits here.
      await this.rollbackActive(connection, xid)
      throw error
    }
    await connection.query(`XA COMMIT ${xaXid(xid)} ONE PHASE`)
    return 'committed'
  },

  commitPrepared: (connection, xid) => finishPrepared(connection, 'COMMIT', xid),
  rollbackPrepared: (connection, xid) => finishPrepared(connection, 'ROLLBACK', xid),

  async savepoint(connection, name, action) {
    await connection.query(savepointSql(name, action))
  },

  async rollbackActive(connection, xid) {
    // After a deadlock or lock-wait timeout the branch is rollback-only: XA END fails with an
    // XA_RB* error, yet XA ROLLBACK must still be sent to free the session.
    await connection.query(`XA END ${xaXid(xid)}`).catch(() => undefined)
    if ((await finishPrepared(connection, 'ROLLBACK', xid)) === 'not-found') {
      throw new BranchOutsideTransaction(
        'the session was no longer in its XA transaction: XA statements txkit did not send ended it',
      )
    }
  },

  async createDecisionLog(connection, table) {
    for (const statement of this.decisionLogSql(table)) await connection.query(statement)
  },

  decisionLogSql(table) {
    // The server records the table's creation time (information_schema CREATE_TIME).
    return [
      `CREATE TABLE IF NOT EXISTS ${quoteTableName(table, '`')} (
  gtrid varchar(64) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
  outcome char(1) CHARACTER SET ascii NOT NULL,
  participants text NOT NULL,
  created_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB COMMENT='txkit decision log'`,
    ]
  },

  async describeDecisionLog(connection, table): Promise<DecisionLogState | undefined> {
    const { rows } = await connection.query<{ comment: string | null; created: string | null }>(
      `SELECT TABLE_COMMENT AS comment, UNIX_TIMESTAMP(CREATE_TIME) * 1000 AS created
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?`,
      [table.schema ?? null, table.name],
    )
    const row = rows[0]
    if (row === undefined) return undefined
    // A table made without txkit's stamp: the server's creation time (a rebuild makes it later,
    // which only makes recovery more careful).
    const created = row.created === null ? undefined : Number(row.created)
    return { createdAt: stampedCreation(row.comment) ?? created }
  },

  async insertCommitDecision(
    connection: DriverConnection,
    table: TableName,
    gtrid: string,
    participants: string,
    deadline: number,
    outcome: 'C' | 'S' = 'C',
  ): Promise<DecisionInsertOutcome> {
    try {
      const result = await connection.query(
        `INSERT INTO ${quoteTableName(table, '`')} (gtrid, outcome, participants)
         SELECT ?, ?, ? FROM DUAL WHERE UNIX_TIMESTAMP(NOW(6)) * 1000 < ?`,
        [gtrid, outcome, participants, deadline],
      )
      return result.affectedRows === 1 ? 'inserted' : 'deadline-passed'
    } catch (error) {
      if (errno(error) === ER_DUP_ENTRY) return 'already-decided'
      throw error
    }
  },

  async resolveStagedDecision(connection, table, gtrid, outcome) {
    const result = await connection.query(
      `UPDATE ${quoteTableName(table, '`')} SET outcome = ? WHERE gtrid = ? AND outcome = 'S'`,
      [outcome, gtrid],
    )
    return result.affectedRows === 1
  },

  preparedListScope: 'server',

  async listPrepared(connection): Promise<PreparedTransaction[]> {
    const { rows } = await connection.query<XaRecoverRow>('XA RECOVER')
    return rows.map((row) => ({ xid: xidOfRecoverRow(row) }))
  },

  async readDecisions(connection, table, gtrids): Promise<DecisionRow[]> {
    if (gtrids.length === 0) return []
    const { rows } = await connection.query<DecisionRow>(
      `SELECT gtrid, outcome, participants FROM ${quoteTableName(table, '`')} WHERE gtrid IN (${gtrids.map(() => '?').join(', ')})`,
      gtrids,
    )
    return rows
  },

  async readOldDecisions(connection, table, olderThanMs, limit): Promise<DecisionRow[]> {
    const { rows } = await connection.query<DecisionRow>(
      `SELECT gtrid, outcome, participants FROM ${quoteTableName(table, '`')}
       WHERE created_at < NOW(6) - INTERVAL ? MICROSECOND ORDER BY created_at LIMIT ?`,
      [Math.round(olderThanMs * 1000), limit],
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
    return withLockWait(connection, lockTimeoutMs, async () => {
      try {
        await connection.query(
          `INSERT INTO ${quoteTableName(table, '`')} (gtrid, outcome, participants) VALUES (?, 'A', ?)`,
          [gtrid, participants],
        )
        return 'inserted'
      } catch (error) {
        const number = errno(error)
        if (number === ER_DUP_ENTRY) return 'exists'
        // Two workers inserting 'A' behind a coordinator's uncommitted 'C' that rolls back: one
        // is a deadlock victim. Its statement undone, it is a wait that ended: try later.
        if (number === ER_LOCK_WAIT_TIMEOUT || number === ER_LOCK_DEADLOCK) return 'busy'
        throw error
      }
    })
  },

  async deleteDecisions(connection, table, rows) {
    if (rows.length === 0) return
    await connection.query(
      `DELETE FROM ${quoteTableName(table, '`')} WHERE ${rows.map(() => '(gtrid = ? AND outcome = ?)').join(' OR ')}`,
      rows.flatMap((row) => [row.gtrid, row.outcome]),
    )
  },

  async now(connection) {
    const { rows } = await connection.query<{ now: string }>(
      'SELECT UNIX_TIMESTAMP(NOW(6)) * 1000 AS now',
    )
    return Number(rows[0]?.now)
  },

  isConnectionLost(error) {
    const number = errno(error)
    if (number !== undefined && CONNECTION_LOST_ERRNOS.has(number)) return true
    const code = findErrorProperty(error, 'code')
    return typeof code === 'string' && CONNECTION_LOST_CODES.has(code)
  },

  isUndefinedTable(error) {
    return errno(error) === ER_NO_SUCH_TABLE
  },

  async explainPrepareFailure() {
    return undefined
  },
}
