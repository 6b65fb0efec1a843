import type { FenceKey } from '../dialect/fence-dialect.js'

/**
 * A gid is a string literal in PREPARE / COMMIT PREPARED (no parameters there). txkit's own ids
 * are letters, digits and ._:~- ; anything else is refused rather than escaped.
 */
export function gidLiteral(xid: string): string {
  if (!/^[A-Za-z0-9._:~-]{1,199}$/.test(xid)) {
    throw new TypeError(
      `Refusing to send an unexpected transaction id to PostgreSQL: ${JSON.stringify(xid)}`,
    )
  }
  return `'${xid}'`
}

/** A string literal for text txkit built itself from checked parts (ids, database names). */
export function ownLiteral(text: string): string {
  if (!/^[A-Za-z0-9._:~\-[\]",]*$/.test(text)) {
    throw new TypeError(`Refusing to inline unexpected text into SQL: ${JSON.stringify(text)}`)
  }
  return `'${text}'`
}

/** A fence key's branch index, checked: it is written into SQL text. */
export function fenceIndex(key: FenceKey): number {
  if (!Number.isInteger(key.index) || key.index < 0 || key.index > 999) {
    throw new TypeError(`Unexpected branch index ${String(key.index)}`)
  }
  return key.index
}
