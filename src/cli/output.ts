import { redactUrlsIn } from '../util/redact-url.js'

/** Prints a line on stdout, passwords in URLs redacted. */
export function out(text: string): void {
  process.stdout.write(`${redactUrlsIn(text)}\n`)
}
