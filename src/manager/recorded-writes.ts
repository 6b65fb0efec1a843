import { ConfigurationError } from '../errors/configuration-error.js'
import {
  type RecordedWrite,
  type RecordHooks,
  type RecordKind,
  runBeforeRecordHooks,
  runRecordHooks,
} from './record-hooks.js'

/**
 * The writes one transaction was told about (`tx.recordWrite`), for the record hooks registered on
 * its manager. A rollback to a savepoint forgets those recorded since it was set: they get no hook.
 *
 * @example
 * ```ts
 * const writes = new RecordedWrites(hooksByTable)
 * writes.record('insert', 'accounts', { id: 7 })
 * await writes.runBefore() // at commit time
 * ```
 */
export class RecordedWrites {
  readonly #writes: RecordedWrite[] = []
  readonly #hooks: ReadonlyMap<string, readonly RecordHooks[]>

  constructor(hooks: ReadonlyMap<string, readonly RecordHooks[]>) {
    this.#hooks = hooks
  }

  /** @throws ConfigurationError for a kind other than insert, update or delete. */
  record(kind: RecordKind, table: string, record: unknown): void {
    if (kind !== 'insert' && kind !== 'update' && kind !== 'delete') {
      throw new ConfigurationError(
        `A write is an insert, an update or a delete, not ${JSON.stringify(kind)}.`,
      )
    }
    this.#writes.push({ kind, table, record })
  }

  /** Where a savepoint set now stands in the writes. */
  mark(): number {
    return this.#writes.length
  }

  /** Forgets the writes recorded since `mark`: the rollback to its savepoint undid them. */
  forgetSince(mark: number): void {
    this.#writes.length = Math.min(this.#writes.length, mark)
  }

  /** Every before-hook runs; the first that threw is rethrown afterwards, aborting the commit. */
  runBefore(): Promise<void> {
    return runBeforeRecordHooks(this.#writes, this.#hooks)
  }

  /** The after-hooks once committed, or the failed-hooks told `outcome`, each run `safely`. */
  runAfter(
    phase: 'after' | 'failed',
    outcome: 'aborted' | 'unknown' | undefined,
    safely: (kind: string, run: () => void | Promise<void>) => Promise<void>,
  ): Promise<void> {
    return runRecordHooks(this.#writes, this.#hooks, phase, outcome, safely)
  }
}
