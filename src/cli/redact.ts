/**
 * Hides passwords in anything printed. Every URL the CLI reads registers its password here, and
 * every line of output, log and error passes through {@link redact}.
 */
const secrets = new Set<string>()

export function registerSecret(secret: string): void {
  if (secret.length > 0) {
    secrets.add(secret)
    secrets.add(encodeURIComponent(secret))
  }
}

/** `text` with every registered secret, and any `user:password@` in a URL, replaced by `***`. */
export function redact(text: string): string {
  let result = text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@')
  for (const secret of secrets) result = result.split(secret).join('***')
  return result
}
