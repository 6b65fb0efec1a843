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
 * `unknown` when the two-phase commit's outcome could not be learned, never a guess.
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
