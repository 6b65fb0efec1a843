import { redact } from './redact.js'

/** Prints a line on stdout, passwords in URLs redacted. */
export function out(text: string): void {
  process.stdout.write(`${redact(text)}\n`)
}
