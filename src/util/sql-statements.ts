/** How a database's SQL quotes and comments, as far as finding statement boundaries needs. */
export interface SqlSyntax {
  /** Backslash escapes inside '…' strings: always (MySQL), or only in E'…' strings (PostgreSQL). */
  readonly backslashEscapes: 'always' | 'e-strings'
  /** `$tag$ … $tag$` strings (PostgreSQL). */
  readonly dollarQuotes: boolean
  /** `# …` line comments, `-- ` needing a space, and `/*! … *\/` comments that run (MySQL). */
  readonly mysqlComments: boolean
}

const PLAIN_HEAD = /^\s*([A-Za-z]+)/

/**
 * The first word of `sql`, upper-cased, when `sql` is one statement that starts with a plain word
 * (no `;`, no leading comment, no MySQL executable comment anywhere); undefined otherwise. Lets a
 * classifier answer the common case without lexing the whole text.
 *
 * @example
 * ```ts
 * plainHead('  insert into t values (1)') // 'INSERT'
 * plainHead('select 1; commit')           // undefined: lex it
 * ```
 */
export function plainHead(sql: string): string | undefined {
  if (sql.includes(';') || sql.includes('/*!')) return undefined
  return PLAIN_HEAD.exec(sql)?.[1]?.toUpperCase()
}

/** Words kept per statement: enough for every rule that reads a statement's head or its SET list. */
const MAX_WORDS = 64

/**
 * The leading words of each statement in `sql`, upper-cased, with comments, strings and quoted
 * identifiers skipped and statements split at `;`. Used to refuse transaction control on a branch:
 * it errs towards seeing a statement where a driver would see one (an unterminated string or
 * comment ends the text; it never hides what follows a `;`).
 *
 * @example
 * ```ts
 * statementWords("/* x *\/ select 1; Commit", postgresSyntax) // [['SELECT', '1'], ['COMMIT']]
 * ```
 */
export function statementWords(sql: string, syntax: SqlSyntax): string[][] {
  const statements: string[][] = []
  let words: string[] = []
  let index = 0
  const length = sql.length
  const end = () => {
    if (words.length > 0) statements.push(words)
    words = []
  }
  while (index < length) {
    const char = sql[index] as string
    const next = sql[index + 1]
    if (char === ';') {
      end()
      index++
    } else if (char === '-' && next === '-') {
      if (syntax.mysqlComments && !/[\s]/.test(sql[index + 2] ?? ' ')) {
        index += 2 // MySQL reads `--x` as two minus signs, not a comment
      } else {
        index = lineEnd(sql, index)
      }
    } else if (char === '#' && syntax.mysqlComments) {
      index = lineEnd(sql, index)
    } else if (char === '/' && next === '*') {
      if (syntax.mysqlComments && sql[index + 2] === '!') {
        // `/*!50000 COMMIT */` runs on MySQL: read its body as SQL, skipping the version digits.
        index += 3
        while (index < length && /[0-9]/.test(sql[index] as string)) index++
      } else {
        index = blockCommentEnd(sql, index, !syntax.mysqlComments)
      }
    } else if (char === '*' && next === '/' && syntax.mysqlComments) {
      index += 2 // the end of an executable comment
    } else if (char === "'") {
      const escapes = syntax.backslashEscapes === 'always' || /[eE]/.test(sql[index - 1] ?? '')
      index = quotedEnd(sql, index, "'", escapes)
    } else if (char === '"' || (char === '`' && syntax.mysqlComments)) {
      index = quotedEnd(sql, index, char, syntax.backslashEscapes === 'always' && char === '"')
      words.push('?')
    } else if (char === '$' && syntax.dollarQuotes && isDollarQuoteStart(sql, index)) {
      index = dollarQuotedEnd(sql, index)
    } else if (/[A-Za-z_@]/.test(char)) {
      const start = index
      while (index < length && /[A-Za-z0-9_@$.]/.test(sql[index] as string)) index++
      if (words.length < MAX_WORDS) words.push(sql.slice(start, index).toUpperCase())
    } else if (char === '=') {
      if (words.length < MAX_WORDS) words.push('=')
      index++
    } else if (char === ',') {
      if (words.length < MAX_WORDS) words.push(',')
      index++
    } else {
      if (!/\s/.test(char) && words.length < MAX_WORDS && words.length > 0) words.push('·')
      index++
    }
  }
  end()
  return statements
}

function lineEnd(sql: string, from: number): number {
  const newline = sql.indexOf('\n', from)
  return newline === -1 ? sql.length : newline + 1
}

function blockCommentEnd(sql: string, from: number, nested: boolean): number {
  let depth = 0
  let index = from
  while (index < sql.length) {
    if (sql[index] === '/' && sql[index + 1] === '*') {
      depth = nested || depth === 0 ? depth + 1 : depth
      index += 2
    } else if (sql[index] === '*' && sql[index + 1] === '/') {
      depth--
      index += 2
      if (depth === 0) return index
    } else {
      index++
    }
  }
  return sql.length
}

function quotedEnd(sql: string, from: number, quote: string, escapes: boolean): number {
  let index = from + 1
  while (index < sql.length) {
    const char = sql[index]
    if (escapes && char === '\\') {
      index += 2
    } else if (char === quote) {
      if (sql[index + 1] === quote) {
        index += 2 // a doubled quote stands for itself
      } else {
        return index + 1
      }
    } else {
      index++
    }
  }
  return sql.length
}

const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/

function isDollarQuoteStart(sql: string, index: number): boolean {
  // `$1` is a parameter and `a$b` part of a name; a tag starts after neither.
  return (
    !/[A-Za-z0-9_$]/.test(sql[index - 1] ?? ' ') && DOLLAR_TAG.test(sql.slice(index, index + 66))
  )
}

function dollarQuotedEnd(sql: string, from: number): number {
  const tag = DOLLAR_TAG.exec(sql.slice(from, from + 66))?.[0] ?? '$$'
  const close = sql.indexOf(tag, from + tag.length)
  return close === -1 ? sql.length : close + tag.length
}
