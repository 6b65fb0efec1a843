import type { RecoveryReport, TransactionRecovery } from '../protocol/recovery-report.js'

/** A duration as `status` prints it: 151ms, 2.5s, 12m, 3h; `?` when unknown. */
export function age(ms: number | undefined): string {
  if (ms === undefined) return '?'
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)}s`
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)}m`
  return `${Math.round(ms / 3_600_000)}h`
}

function table(rows: readonly string[][]): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? []
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

function databases(transaction: TransactionRecovery): string {
  return [...new Set(transaction.branches.map((branch) => branch.database))].join(',')
}

function what(transaction: TransactionRecovery): string {
  if (transaction.action === 'left') return `leave (${transaction.left ?? 'left'})`
  if (transaction.action === 'failed') return `FAILED: ${transaction.error ?? ''}`
  return transaction.action
}

/** The `txkit status` view: one line per in-doubt transaction. */
export function formatStatus(report: RecoveryReport): string {
  const lines: string[] = []
  if (report.transactions.length === 0) {
    lines.push('No prepared transaction of ours is in doubt.')
  } else {
    lines.push(
      table([
        ['GTRID', 'PROTOCOL', 'DATABASES', 'AGE', 'DECISION', 'RECOVER WOULD'],
        ...report.transactions.map((transaction) => [
          transaction.gtrid,
          transaction.protocol,
          databases(transaction),
          age(transaction.ageMs),
          transaction.decision,
          what(transaction).replace(/^would-/, ''),
        ]),
      ]),
    )
  }
  // Transactions left for a reason an operator must act on: say why, and what to do.
  for (const transaction of report.transactions) {
    if (transaction.action === 'left' && ACT_ON.has(transaction.left ?? '')) {
      lines.push(`${transaction.gtrid}: ${transaction.reason}`)
    }
  }
  lines.push(...footer(report))
  return lines.join('\n')
}

const ACT_ON = new Set([
  'no-decision-log',
  'other-decision-log',
  'other-fence-table',
  'decision-table-missing',
  'older-than-decision-log',
  'protocol-not-selected',
  'invalid-state',
])

/** The `txkit recover` view: what was done to each transaction, then the totals. */
export function formatRecovery(report: RecoveryReport): string {
  const lines = report.transactions.map(
    (transaction) =>
      `${what(transaction).padEnd(12)} ${transaction.gtrid}  [${databases(transaction)}]  ${transaction.reason}`,
  )
  const { committed, rolledBack, left, failed } = report.counts
  lines.push(
    `${report.dryRun ? 'Dry run: ' : ''}${committed} committed, ${rolledBack} rolled back, ${left} left, ${failed} failed` +
      `${report.decisionsDeleted > 0 ? `; ${report.decisionsDeleted} decision rows removed` : ''} (${report.durationMs} ms)`,
  )
  lines.push(...footer(report))
  return lines.join('\n')
}

function footer(report: RecoveryReport): string[] {
  const lines: string[] = []
  for (const database of report.databases) {
    if (database.error !== undefined) lines.push(`database "${database.name}" ${database.error}`)
    const others = database.otherPrefixes ?? []
    if (others.length > 0) {
      lines.push(
        `database "${database.name}" also holds prepared transactions with another prefix (${others.join(', ')}): ` +
          `never touched here; see them with --prefix ${others[0]}`,
      )
    } else if (database.foreign > 0) {
      lines.push(
        `database "${database.name}" also holds ${database.foreign} prepared transaction(s) of other tools: never touched`,
      )
    }
  }
  for (const transaction of report.transactions) {
    for (const warning of transaction.warnings)
      lines.push(`warning: ${transaction.gtrid}: ${warning}`)
  }
  for (const malformed of report.malformed) {
    lines.push(`malformed id on "${malformed.database}", left alone: ${malformed.reason}`)
  }
  if (report.aborted) lines.push('Stopped before every transaction was examined.')
  return lines
}
