import type { RecoveryReport } from '../../protocol/recovery-report.js'
import { recover } from '../../recovery/recover.js'
import type { CommandContext } from '../command.js'
import { EXIT } from '../exit-codes.js'
import { formatRecovery, formatStatus } from '../format-report.js'
import { out } from '../output.js'
import { progressPrinter, progressTimes } from '../progress-printer.js'
import { recoverOptions } from '../recover-options.js'
import { stderrLine } from '../status-line.js'

/** Reasons that only time resolves: the next round (or a later one) finishes these. */
const LEFT_FOR_LATER = new Set([
  'too-young',
  'decision-open',
  'attached-to-live-session',
  'in-use',
  'unstable',
  // Another worker is finishing it now; should that worker fail, a later round does.
  'other-worker',
])

/**
 * One recovery round of `status` (a dry run: it changes nothing) or `recover`: prints the report
 * as text or JSON and answers its exit code.
 */
export async function recoverOnce(
  { values, connected, logger }: CommandContext,
  command: 'status' | 'recover',
): Promise<number> {
  const options = recoverOptions(values, connected)
  // A long round shows how far it is on stderr (stdout keeps only the report): a line redrawn in
  // place on a terminal, else a count record every 2 s (a JSON line with --json).
  const terminal = process.stderr.isTTY === true && values.json !== true
  const onProgress = progressPrinter({
    label: `txkit ${command}`,
    logger,
    ...(terminal && { line: stderrLine }),
    ...progressTimes(2000, 1000),
  })
  const report = await recover({
    ...options,
    dryRun: command === 'status' || options.dryRun === true,
    logger,
    onProgress,
  })
  if (values.json) out(JSON.stringify(report, null, 2))
  else out(command === 'status' ? formatStatus(report) : formatRecovery(report))
  return recoveryExitCode(report, command)
}

/**
 * The exit code of a round: failures, malformed ids and transactions left for a person (another
 * decision log, a missing table …) → 1; transactions left for a later round → 3; else 0. For
 * `status`, transactions recover would finish now count as work for later too.
 */
function recoveryExitCode(report: RecoveryReport, command: 'status' | 'recover'): number {
  if (report.counts.failed > 0 || report.malformed.length > 0) return EXIT.failed
  let later = false
  for (const transaction of report.transactions) {
    if (transaction.action === 'left') {
      if (!LEFT_FOR_LATER.has(transaction.left ?? '')) return EXIT.failed
      later = true
    } else if (transaction.action !== 'committed' && transaction.action !== 'rolled-back') {
      later = true
    }
  }
  if (command === 'status' && report.transactions.length > 0) later = true
  return later ? EXIT.later : EXIT.done
}
