import { withConnection } from '../../database/with-connection.js'
import { GC_BATCH, GC_MARGIN_MS } from '../../records/decision-rows.js'
import { errorMessage } from '../../util/error-message.js'
import type { Settings } from '../recovery-settings.js'

/**
 * Deletes committed fence rows (parallel protocol) older than any transaction may run: a claimed
 * fence, or a committed branch's that its coordinator did not delete. A live branch's fence row is
 * uncommitted, so no other session can delete it; past the deadline no staged decision can be
 * recorded any more, so a claim is no longer needed (model/parallel.pml). Returns how many.
 */
export async function collectFences(settings: Settings): Promise<number> {
  const counts = await Promise.all(
    settings.databases.map(async (database) => {
      const fences = database.dialect.fences
      if (fences === undefined) return 0
      try {
        return await withConnection(database, (connection) =>
          fences.deleteOlderThan(
            connection,
            settings.fenceTable.table,
            settings.maxTransactionDuration + GC_MARGIN_MS,
            GC_BATCH,
          ),
        )
      } catch (error) {
        settings.logger.warn(
          { database: database.name, error: errorMessage(error) },
          'txkit recover: could not delete old fence rows',
        )
        return 0
      }
    }),
  )
  return counts.reduce((sum, count) => sum + count, 0)
}
