/** A transaction statement an ORM sends on the session of its own transaction. */
export type Control =
  | { readonly kind: 'begin' | 'commit' | 'rollback' }
  | { readonly kind: 'savepoint' | 'release' | 'rollback-to'; readonly name: string }
  | { readonly kind: 'configured'; readonly statement: string }

/**
 * The transaction statement in `text`, as ORMs send them on the session of their own transactions
 * (Drizzle, Knex): BEGIN / START TRANSACTION, COMMIT, ROLLBACK, SAVEPOINT, RELEASE SAVEPOINT,
 * ROLLBACK TO SAVEPOINT; `configured` for a BEGIN, START or SET TRANSACTION with options.
 *
 * @example
 * ```ts
 * controlOf('SAVEPOINT trx2;') // { kind: 'savepoint', name: 'trx2' }
 * ```
 */
export function controlOf(text: string): Control | undefined {
  const statement = text.trim().replace(/;$/, '').replace(/\s+/g, ' ').toLowerCase()
  if (statement === 'begin' || statement === 'start transaction') return { kind: 'begin' }
  if (statement === 'commit') return { kind: 'commit' }
  if (statement === 'rollback') return { kind: 'rollback' }
  const savepoint = /^(savepoint|release savepoint|rollback to savepoint) ("?)([a-z0-9_]+)\2$/.exec(
    statement,
  )
  if (savepoint) {
    const kind =
      savepoint[1] === 'savepoint'
        ? 'savepoint'
        : savepoint[1] === 'release savepoint'
          ? 'release'
          : 'rollback-to'
    return { kind, name: savepoint[3] as string }
  }
  if (/^(begin|start transaction|set transaction)\b/.test(statement)) {
    return { kind: 'configured', statement: text.trim() }
  }
  return undefined
}
