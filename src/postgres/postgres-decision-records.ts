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
import { confirmedBySynchronousStandby } from './postgres-branch-session.js'
import {
  DIVISION_BY_ZERO,
  LOCK_NOT_AVAILABLE,
  sqlState,
  UNIQUE_VIOLATION,
} from './postgres-error-codes.js'
import { withLockTimeout } from './postgres-lock-wait.js'

/** PostgreSQL's decision table: a script in one message, decisions judged by the server's clock. */
export const postgresDecisionRecords: DecisionRecordsDialect = {
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
}
