import { AsyncLocalStorage } from 'node:async_hooks'
import { isTxkitError, type TxkitError } from '../errors/txkit-error.js'

/**
 * The client call (one operation of `txkitPrismaExtension`) a query on the pool runs for.
 *
 * Prisma turns an error its driver adapter throws into a `PrismaClientKnownRequestError` that
 * keeps only the message and `code`: the txkit error (its class, `statement`, `database`) is lost.
 * The pool notes the txkit error in the scope of the call that caused it, and the extension throws
 * that error instead of Prisma's copy. The pool also asks whether a query runs under the
 * extension at all (see `txkitPrismaPool`).
 */
const scope = new AsyncLocalStorage<{ error?: TxkitError }>()

/** Whether the code running is under a call of `txkitPrismaExtension`. */
export function inExtensionCall(): boolean {
  return scope.getStore() !== undefined
}

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
 * return extensionCall(() => query(args))
 * ```
 */
export async function extensionCall<T>(call: () => Promise<T>): Promise<T> {
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
