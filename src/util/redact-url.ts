/**
 * A connection URL with its password replaced by `***`, for messages.
 *
 * @example
 * ```ts
 * redactUrl('postgres://app:s3cret@db1/orders') // 'postgres://app:***@db1/orders'
 * ```
 */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return redactUrlsIn(url)
  }
}

/** `scheme://` and the rest of the word it starts: a URL, or what is left of one in a message. */
const URL_SHAPED = /\b([a-z][a-z0-9+.-]*:\/\/)(\S*)/gi

/**
 * `text` with the password of every URL in it replaced by `***`: the password found by its place
 * in the URL (between the user's `:` and the `@` before the host), never by searching for its
 * characters, so that the rest of the text is left as it was, whatever the password.
 *
 * @example
 * ```ts
 * redactUrlsIn('connect to postgres://postgres:p@db1/orders failed') // '… postgres://postgres:***@db1/orders failed'
 * ```
 */
export function redactUrlsIn(text: string): string {
  return text.replace(URL_SHAPED, (_, scheme: string, rest: string) => {
    const userinfo = userinfoEnd(rest)
    if (userinfo === -1) return scheme + rest
    const colon = rest.indexOf(':')
    if (colon === -1 || colon > userinfo) return scheme + rest
    return `${scheme}${rest.slice(0, colon + 1)}***${rest.slice(userinfo)}`
  })
}

/**
 * Where the userinfo of a URL's remainder (after `scheme://`) ends, at its `@`; -1 without one.
 * The authority ends at the first `/`, `?` or `#` and its userinfo at its last `@`; a password with
 * an unescaped `/` (no URL, but typed that way) ends instead at the first `@` after the user's `:`.
 */
function userinfoEnd(rest: string): number {
  const authority = rest.search(/[/?#]/)
  const at = rest.lastIndexOf('@', authority === -1 ? rest.length : authority)
  if (at !== -1 && (authority === -1 || at < authority)) return at
  const colon = rest.indexOf(':')
  if (colon === -1 || (authority !== -1 && colon > authority)) return -1
  return rest.indexOf('@', colon)
}
