/** What an application wrote, as it tells the transaction (`tx.recordWrite`). */
export type RecordKind = 'insert' | 'update' | 'delete'

/** What a record hook is told besides the record. */
export interface RecordHookInfo {
  readonly table: string
  readonly kind: RecordKind
  /** For failed hooks: `aborted`, or `unknown` when the commit's outcome could not be learned. */
  readonly outcome?: 'aborted' | 'unknown'
}

export type RecordHook = (record: unknown, info: RecordHookInfo) => void | Promise<void>

/**
 * The nine hooks of sqlalchemy_commithooks, per table. Before-hooks run at commit time, every one of
 * them; then exactly one of the after- or failed-hook runs per record. A failed-hook is told
 * `unknown` when the two-phase commit's outcome could not be learned, never a guess. Inserts run
 * first, then updates, then deletes; a record recorded twice with one kind runs that kind's hooks
 * once (see {@link orderedWrites}).
 */
export interface RecordHooks {
  readonly beforeInsert?: RecordHook
  readonly afterInsert?: RecordHook
  readonly failedInsert?: RecordHook
  readonly beforeUpdate?: RecordHook
  readonly afterUpdate?: RecordHook
  readonly failedUpdate?: RecordHook
  readonly beforeDelete?: RecordHook
  readonly afterDelete?: RecordHook
  readonly failedDelete?: RecordHook
}

/** A write recorded in a transaction. */
export interface RecordedWrite {
  readonly kind: RecordKind
  readonly table: string
  readonly record: unknown
}

const KIND_ORDER: readonly RecordKind[] = ['insert', 'update', 'delete']

/**
 * The writes whose hooks run, in the order they run: every insert, then every update, then every
 * delete (sqlalchemy_commithooks' order), each kind in the order recorded; a record recorded again
 * with the same kind for the same table counts once (the same object, or the same primitive value).
 *
 * @example
 * ```ts
 * const account = { id: 7 }
 * orderedWrites([
 *   { kind: 'update', table: 'accounts', record: account },
 *   { kind: 'insert', table: 'accounts', record: account },
 *   { kind: 'update', table: 'accounts', record: account },
 * ]) // the insert, then one update
 * ```
 */
export function orderedWrites(writes: readonly RecordedWrite[]): RecordedWrite[] {
  const seen = new Map<string, Set<unknown>>()
  const ordered: RecordedWrite[] = []
  for (const kind of KIND_ORDER) {
    for (const write of writes) {
      if (write.kind !== kind) continue
      const key = `${kind}\u0000${write.table}`
      let records = seen.get(key)
      if (records === undefined) {
        records = new Set()
        seen.set(key, records)
      }
      if (records.has(write.record)) continue
      records.add(write.record)
      ordered.push(write)
    }
  }
  return ordered
}

const SUFFIX: Record<RecordKind, 'Insert' | 'Update' | 'Delete'> = {
  insert: 'Insert',
  update: 'Update',
  delete: 'Delete',
}

/** The hook of `phase` for a write's kind, from one registration. */
export function recordHook(
  hooks: RecordHooks,
  phase: 'before' | 'after' | 'failed',
  kind: RecordKind,
): RecordHook | undefined {
  return hooks[`${phase}${SUFFIX[kind]}`]
}

/** Every before-hook runs; the first that threw is rethrown afterwards, aborting the commit. */
export async function runBeforeRecordHooks(
  records: readonly RecordedWrite[],
  hooksByTable: ReadonlyMap<string, readonly RecordHooks[]>,
): Promise<void> {
  let failure: { error: unknown } | undefined
  for (const write of orderedWrites(records)) {
    for (const hooks of hooksByTable.get(write.table) ?? []) {
      try {
        await recordHook(
          hooks,
          'before',
          write.kind,
        )?.(write.record, {
          table: write.table,
          kind: write.kind,
        })
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  if (failure) throw failure.error
}

/**
 * Exactly one of these per recorded write: the after-hook, or the failed-hook with why. Each runs
 * through `safely`, which reports a throw and goes on.
 */
export async function runRecordHooks(
  records: readonly RecordedWrite[],
  hooksByTable: ReadonlyMap<string, readonly RecordHooks[]>,
  phase: 'after' | 'failed',
  outcome: 'aborted' | 'unknown' | undefined,
  safely: (kind: string, run: () => void | Promise<void>) => Promise<void>,
): Promise<void> {
  for (const write of orderedWrites(records)) {
    for (const hooks of hooksByTable.get(write.table) ?? []) {
      const hook = recordHook(hooks, phase, write.kind)
      if (hook === undefined) continue
      const info = { table: write.table, kind: write.kind, ...(outcome && { outcome }) }
      await safely(`${phase}-${write.kind}`, () => hook(write.record, info))
    }
  }
}
