import { AsyncLocalStorage } from 'node:async_hooks'
import { errorMessage } from '../util/error-message.js'
import type { Logger } from '../util/logger.js'

/** True in the flow of an after-commit, after-abort or record hook. */
const inAfterHook = new AsyncLocalStorage<boolean>()

/** @internal Whether the calling flow runs in a transaction's after-hook. */
export function runningAfterHook(): boolean {
  return inAfterHook.getStore() === true
}

/** How a commit ended, as after-commit hooks are told: never a guess. */
export type CommitOutcome = 'committed' | 'aborted' | 'unknown'

/** A hook handed the transaction: before-commit, after-abort. */
type Hook<Transaction> = (transaction: Transaction) => void | Promise<void>
/** An after-commit hook, told the outcome. */
type OutcomeHook<Transaction> = (
  outcome: CommitOutcome,
  transaction: Transaction,
) => void | Promise<void>

/**
 * The before-commit, after-commit and after-abort hooks of one transaction, and how they run.
 * Before-commit hooks run in order and the first throw stops the commit; an after-hook that throws
 * is logged, and never changes the outcome or stops the other hooks. `Transaction` is what the
 * hooks are handed (the managed transaction, which holds this object: hence a parameter, not an
 * import).
 *
 * @example
 * ```ts
 * const hooks = new TransactionHooks<ManagedTransaction>(logger, () => transaction.gtrid)
 * hooks.afterCommit((outcome) => console.log(outcome))
 * await hooks.runAfterCommit('committed', transaction)
 * ```
 */
export class TransactionHooks<Transaction> {
  readonly #logger: Logger
  readonly #gtrid: () => string | undefined
  readonly #beforeCommit: Hook<Transaction>[] = []
  readonly #afterCommit: OutcomeHook<Transaction>[] = []
  readonly #afterAbort: Hook<Transaction>[] = []
  /** Which after-hooks are running: as in Zope, they may add hooks of their kind, which run too. */
  #running: 'commit' | 'abort' | undefined

  /** `gtrid` names the transaction in the log records of hooks that threw. */
  constructor(logger: Logger, gtrid: () => string | undefined) {
    this.#logger = logger
    this.#gtrid = gtrid
  }

  /** Which after-hooks are running now, if any. */
  get runningAfter(): 'commit' | 'abort' | undefined {
    return this.#running
  }

  beforeCommit(hook: Hook<Transaction>): void {
    this.#beforeCommit.push(hook)
  }

  afterCommit(hook: OutcomeHook<Transaction>): void {
    this.#afterCommit.push(hook)
  }

  afterAbort(hook: Hook<Transaction>): void {
    this.#afterAbort.push(hook)
  }

  /** Runs the before-commit hooks, those they add included; a throw is the caller's to handle. */
  async runBeforeCommit(transaction: Transaction): Promise<void> {
    for (let index = 0; index < this.#beforeCommit.length; index++) {
      await this.#beforeCommit[index]?.(transaction)
    }
  }

  async runAfterCommit(outcome: CommitOutcome, transaction: Transaction): Promise<void> {
    this.#running = 'commit'
    // Index by index: hooks added meanwhile are run too.
    for (let index = 0; index < this.#afterCommit.length; index++) {
      const hook = this.#afterCommit[index] as OutcomeHook<Transaction>
      await this.safely('after-commit', () => hook(outcome, transaction))
    }
    this.#running = undefined
  }

  async runAfterAbort(transaction: Transaction): Promise<void> {
    this.#running = 'abort'
    for (let index = 0; index < this.#afterAbort.length; index++) {
      const hook = this.#afterAbort[index] as Hook<Transaction>
      await this.safely('after-abort', () => hook(transaction))
    }
    this.#running = undefined
  }

  /** A hook that throws is logged and never changes the outcome or stops the other hooks. */
  async safely(kind: string, run: () => void | Promise<void>): Promise<void> {
    try {
      await inAfterHook.run(true, run)
    } catch (error) {
      this.#logger.error(
        { gtrid: this.#gtrid(), hook: kind, error: errorMessage(error) },
        `txkit: an ${kind} hook threw; the transaction's outcome is unchanged`,
      )
    }
  }
}
