import type { TransactionGuard } from '../dialect/transaction-guard.js'
import { plainHead, type SqlSyntax, statementWords } from '../util/sql-statements.js'

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

/** PostgreSQL's guard against statements that would end or replace a branch's transaction. */
export const postgresTransactionGuard: TransactionGuard = {
  transactionControl: postgresTransactionControl,
}
