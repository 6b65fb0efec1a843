/** What a database error means for a retry. */
export interface ErrorClassification {
  /** Running the work again may succeed (a conflict, a timeout, a lost connection). */
  readonly transient: boolean
  /** The code that decided it: SQLSTATE, errno, driver or ORM code. */
  readonly code?: string
  /**
   * What the error undid:
   * - `statement`: only the failing statement (rolling back to a savepoint recovers);
   * - `transaction`: the server rolled back the whole transaction (MySQL/MariaDB deadlock 1213);
   * - `connection`: the session is gone, and its transaction with it.
   */
  readonly scope: 'statement' | 'transaction' | 'connection'
}

/**
 * One database's (and its drivers') transient error codes. Each vendor folder keeps its own in
 * `<db>-error-codes.ts`, which registers them when loaded: the runner classifies errors without
 * naming a vendor.
 */
export interface TransientErrorCodes {
  /**
   * The classification of `error` itself (not of its causes: the caller walks those) when one of
   * this database's codes marks it as transient; otherwise undefined.
   */
  classify(error: Readonly<Record<string, unknown>>): ErrorClassification | undefined
}

const registered: TransientErrorCodes[] = []

/**
 * Adds a database's codes to those {@link registeredTransientErrorCodes} answers; once per module,
 * however often it is loaded.
 *
 * @example
 * ```ts
 * registerTransientErrorCodes({ classify: (e) => (e.code === 'BUSY' ? { transient: true, code: 'BUSY', scope: 'statement' } : undefined) })
 * ```
 */
export function registerTransientErrorCodes(codes: TransientErrorCodes): void {
  if (!registered.includes(codes)) registered.push(codes)
}

/** The codes of every database whose folder is loaded, in the order they were registered. */
export function registeredTransientErrorCodes(): readonly TransientErrorCodes[] {
  return registered
}

/** Answers `transient: true` for `code`, with the scope `scope`. */
export function transient(code: string, scope: ErrorClassification['scope']): ErrorClassification {
  return { transient: true, code, scope }
}
