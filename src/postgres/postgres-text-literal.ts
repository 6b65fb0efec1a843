/**
 * Any text as a PostgreSQL string literal, in the escape-string form (`E'…'`) whose meaning does not
 * depend on `standard_conforming_strings`: quotes and backslashes doubled, nothing else read.
 *
 * @throws TypeError for text holding NUL, which PostgreSQL text cannot hold and its protocol would
 *   read as the end of the statement.
 */
export function textLiteral(text: string): string {
  if (text.includes('\0')) {
    throw new TypeError(
      'Text holding a NUL character cannot be written into a PostgreSQL statement',
    )
  }
  return `E'${text.replaceAll('\\', '\\\\').replaceAll("'", "''")}'`
}
