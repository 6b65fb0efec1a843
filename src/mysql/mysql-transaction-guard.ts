import type { TransactionGuard } from '../dialect/transaction-guard.js'
import { plainHead, type SqlSyntax, statementWords } from '../util/sql-statements.js'

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

/** MySQL's and MariaDB's guard against statements that would end or replace a branch's transaction. */
export const mysqlTransactionGuard: TransactionGuard = {
  transactionControl: mysqlTransactionControl,
}
