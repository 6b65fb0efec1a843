import type { PreflightDialect } from '../dialect/preflight-dialect.js'

/** PostgreSQL's checks of its own server. */
export const postgresPreflight: PreflightDialect = {
  async inspect(connection, expected) {
    const { rows } = await connection.query<{ max_prepared: string; max_connections: string }>(
      `SELECT current_setting('max_prepared_transactions') AS max_prepared,
              current_setting('max_connections') AS max_connections`,
    )
    const maxPrepared = Number(rows[0]?.max_prepared)
    const maxConnections = Number(rows[0]?.max_connections)
    if (maxPrepared === 0) {
      return [
        {
          code: 'prepared-transactions-disabled',
          severity: 'error',
          message:
            'max_prepared_transactions is 0 (PostgreSQL’s default): every PREPARE TRANSACTION fails, so no transaction with a branch here can commit.',
          fix: `Set max_prepared_transactions to at least max_connections (${maxConnections}) in postgresql.conf and restart the server.`,
        },
      ]
    }
    if (expected.concurrency !== undefined && maxPrepared < expected.concurrency) {
      return [
        {
          code: 'prepared-transactions-too-few',
          severity: 'warning',
          message: `max_prepared_transactions is ${maxPrepared}, fewer than the ${expected.concurrency} transactions expected in flight at once: beyond it PREPARE TRANSACTION fails and those transactions roll back.`,
          fix: `Set max_prepared_transactions to at least ${expected.concurrency} (PostgreSQL advises max_connections, ${maxConnections}) and restart the server; prepared transactions left by crashes count too, so run recovery.`,
        },
      ]
    }
    return []
  },
}
