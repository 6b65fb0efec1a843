/** Moves to the start of the line and clears it: what redraws a line in place on a terminal. */
export const CLEAR_LINE = '\r\x1b[K'

/**
 * One line at the bottom of a terminal that is redrawn in place (a progress line), with log lines
 * printed above it: a log line clears it, is written, and the line is drawn again below.
 *
 * @example
 * ```ts
 * const line = new StatusLine((text) => process.stderr.write(text))
 * line.show('txkit recover: 10/300')
 * line.print('a log line\n')
 * line.clear()
 * ```
 */
export class StatusLine {
  readonly #write: (text: string) => void
  #shown = ''

  constructor(write: (text: string) => void) {
    this.#write = write
  }

  /** Draws `text` in place of the line shown (`text` without a newline). */
  show(text: string): void {
    this.#shown = text
    this.#write(`${CLEAR_LINE}${text}`)
  }

  /** Writes a whole line (ending with a newline) above the status line. */
  print(line: string): void {
    if (this.#shown === '') this.#write(line)
    else this.#write(`${CLEAR_LINE}${line}${this.#shown}`)
  }

  /** Clears the status line, leaving the cursor at the start of an empty line. */
  clear(): void {
    if (this.#shown === '') return
    this.#shown = ''
    this.#write(CLEAR_LINE)
  }
}

/** The status line of the process's stderr: the CLI's logger prints through it. */
export const stderrLine = new StatusLine((text) => process.stderr.write(text))
