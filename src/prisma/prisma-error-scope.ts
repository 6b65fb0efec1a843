import { AsyncLocalStorage } from 'node:async_hooks'
import { isTxkitError, type TxkitError } from '../errors/txkit-error.js'

/**
 * Prisma turns an error its driver adapter throws into a `PrismaClientKnownRequestError` that
 * keeps only the message and `code`: the txkit error (its class, `statement`, `database`) is lost.
 * The pool notes the txkit error in the scope of the client call that caused it, and the client
 * extension throws that error instead of Prisma's copy.
 */
const scope = new AsyncLocalStorage<{ error?: TxkitError }>()

/** Keeps `error` for the client call under way, when it is txkit's. */
export function noteError(error: unknown): void {
  const store = scope.getStore()
  if (store !== undefined && isTxkitError(error)) store.error = error
}

/**
 * Runs one Prisma client call; when it fails with Prisma's copy of a txkit error noted meanwhile,
 * throws the txkit error (with Prisma's as its `cause`).
 *
 * @example
 * ```ts
 * return withTxkitErrors(() => query(args))
 * ```
 */
export async function withTxkitErrors<T>(call: () => Promise<T>): Promise<T> {
  const store: { error?: TxkitError } = {}
  try {
    return await scope.run(store, call)
  } catch (error) {
    const noted = store.error
    if (noted === undefined || error === noted) throw error
    const copy = error as { code?: unknown; message?: unknown }
    if (copy.code !== noted.code || !String(copy.message).includes(noted.message)) throw error
    if (noted.cause === undefined) Object.defineProperty(noted, 'cause', { value: error })
    throw noted
  }
}
