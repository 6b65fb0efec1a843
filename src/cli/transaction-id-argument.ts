import { GTRID_SHAPE, parseGtrid } from '../xid/xid.js'
import { UsageError } from './usage-error.js'

/**
 * The one argument of `txkit <command> <gtrid>`, checked to be a txkit transaction id before any
 * database is connected.
 *
 * @throws UsageError for no argument, several, or one that is not an id (saying what one looks like).
 * @example
 * ```ts
 * transactionIdArgument('show', ['txkit.0mxdvnfjp8a8af3369bbb1428']) // 'txkit.0mxdvnfjp8a8af3369bbb1428'
 * ```
 */
export function transactionIdArgument(command: string, positionals: readonly string[]): string {
  if (positionals.length !== 1) {
    throw new UsageError(`txkit ${command} takes one transaction id (${positionals.length} given).`)
  }
  const gtrid = positionals[0] as string
  if (parseGtrid(gtrid) === undefined) {
    throw new UsageError(`"${gtrid.slice(0, 80)}" is not a txkit transaction id: ${GTRID_SHAPE}.`)
  }
  return gtrid
}
