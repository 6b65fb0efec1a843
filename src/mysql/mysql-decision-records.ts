import {
  type AbortInsertOutcome,
  type DecisionInsertOutcome,
  type DecisionLogState,
  type DecisionRecordsDialect,
  type DecisionRow,
  stampedCreation,
} from '../dialect/decision-records.js'
import { quoteTableName, type TableName } from '../dialect/table-name.js'
import type { DriverConnection } from '../driver/driver-connection.js'
import { ER_DUP_ENTRY, ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT, errno } from './mysql-error-codes.js'
import { withLockWait } from './mysql-lock-wait.js'

/** MySQL's and MariaDB's decision table (InnoDB), decisions judged by the server's clock. */
export const mysqlDecisionRecords: DecisionRecordsDialect = {
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
}
