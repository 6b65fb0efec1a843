import { AsyncLocalStorage } from 'node:async_hooks'
import type { TransactionSavepoint } from '../commit/distributed-transaction.js'
import { ConcurrentSavepointError } from '../errors/concurrent-savepoint-error.js'
import { TransactionStateError } from '../errors/transaction-state-error.js'

/**
 * Who opened a scope: a tool's session (the object its statements come through), the callback
 * form of `tx.savepoint(work)`, whose async flow is known, or the handle form `tx.savepoint()`,
 * which cannot know which async flow it serves.
 */
export type ScopeOwner = object | 'callback' | 'handle'

/**
 * A savepoint that one owner holds: while it is open, no sibling's savepoint may open beside it
 * on the same transaction, because one connection's savepoints are a stack and a sibling's would
 * nest inside it (its rollback would undo the sibling's reported work).
 */
export class SavepointScope {
  readonly scopes: SavepointScopes
  readonly parent: SavepointScope | undefined
  readonly owner: ScopeOwner
  /** What it is, for messages: `a Kysely transaction`, `savepoint txkit_sp_2 (tx.savepoint())`. */
  what: string
  savepoint: TransactionSavepoint | undefined
  /** The child scope holding this scope's turn. */
  child: SavepointScope | undefined
  ended = false
  /** Siblings waiting for the turn, first come first served. */
  readonly waiting: Waiter[] = []

  constructor(
    scopes: SavepointScopes,
    parent: SavepointScope | undefined,
    owner: ScopeOwner,
    what: string,
  ) {
    this.scopes = scopes
    this.parent = parent
    this.owner = owner
    this.what = what
  }
}

interface Waiter {
  readonly scope: SavepointScope
  readonly granted: () => void
  readonly timer: NodeJS.Timeout
  readonly reject: (error: unknown) => void
}

/** The callback-form scope the calling async flow runs in, whatever transaction it is of. */
const flowScope = new AsyncLocalStorage<SavepointScope>()

/** Statements that cannot write: their undoing loses nothing. */
const READ_ONLY = /^\s*(?:select|show|explain|describe|desc|values|table)\b/i

/**
 * The savepoints of one managed transaction as a tree of turns. Siblings (two async flows that
 * each open a savepoint, or an ORM's own transaction, on the same transaction) take turns: the
 * later one waits until the earlier has ended, as a second transaction would wait for the one
 * connection, or gets a {@link ConcurrentSavepointError} at once where txkit cannot tell a sibling
 * from a nested savepoint. Writes that reach an ORM's open transaction from outside it are counted,
 * so that a rollback which undoes them makes the transaction uncommittable instead of losing them.
 */
export class SavepointScopes {
  readonly #root: SavepointScope
  readonly #create: () => Promise<TransactionSavepoint>
  readonly #waitTimeout: number
  readonly #describe: () => string
  readonly #onUndone: (error: TransactionStateError) => void
  /** Writes sent into an ORM's open transaction from outside it, in all. */
  #foreignWrites = 0
  #closed: TransactionStateError | undefined

  /**
   * `create` sets a savepoint on the transaction; `waitTimeout` bounds a sibling's wait (0:
   * refused at once); `onUndone` is told when a rollback undid writes sent from outside.
   */
  constructor(options: {
    readonly create: () => Promise<TransactionSavepoint>
    readonly waitTimeout: number
    readonly describe: () => string
    readonly onUndone: (error: TransactionStateError) => void
  }) {
    this.#root = new SavepointScope(this, undefined, 'handle', 'the transaction')
    this.#create = options.create
    this.#waitTimeout = options.waitTimeout
    this.#describe = options.describe
    this.#onUndone = options.onUndone
  }

  /** The scope the calling async flow is in: its callback-form savepoint's, or the root. */
  flow(): SavepointScope {
    const scope = flowScope.getStore()
    return scope !== undefined && scope.scopes === this && !scope.ended ? scope : this.#root
  }

  /**
   * Opens a savepoint for `owner` below `parent` (default: the calling flow's scope) once it has
   * the turn there.
   *
   * @throws ConcurrentSavepointError refused, or its wait timed out; nothing was sent.
   */
  async open(
    owner: ScopeOwner,
    what: string,
    parent: SavepointScope = this.flow(),
  ): Promise<SavepointScope> {
    const scope = new SavepointScope(this, parent, owner, what)
    await this.#takeTurn(scope)
    try {
      scope.savepoint = await this.marked(what)
    } catch (error) {
      this.#end(scope)
      throw error
    }
    if (owner === 'handle') {
      scope.what = `savepoint ${scope.savepoint.name} (${what})`
    }
    return scope
  }

  /**
   * Runs `work` in a turn of the calling flow's scope, without a savepoint of the transaction's
   * (`work` sets its own on one session, as the runner's attempts do).
   *
   * @throws ConcurrentSavepointError beside an open handle, or the turn did not come in time.
   */
  async exclusive<Result>(what: string, work: () => Promise<Result>): Promise<Result> {
    const scope = new SavepointScope(this, this.flow(), 'callback', what)
    await this.#takeTurn(scope)
    try {
      return await this.within(scope, work)
    } finally {
      this.#end(scope)
    }
  }

  /** Runs `work` as the flow of `scope`: savepoints and statements it makes are inside it. */
  within<Result>(scope: SavepointScope, work: () => Promise<Result>): Promise<Result> {
    return flowScope.run(scope, work)
  }

  /**
   * A savepoint inside an owner's open scope. Rolling back to it after writes were sent from
   * outside that owner since it was set makes the transaction uncommittable (they are undone).
   */
  async marked(what: string): Promise<TransactionSavepoint> {
    // Read before the SAVEPOINT is sent: a write counted after may run after it, and is covered.
    const mark = this.#foreignWrites
    const inner = await this.#create()
    return {
      name: inner.name,
      release: () => inner.release(),
      rollback: async () => {
        const undone = this.#foreignWrites - mark
        await inner.rollback()
        if (undone > 0) {
          this.#onUndone(
            new TransactionStateError(
              `${this.#describe()} can only be rolled back: rolling back ${what} (savepoint ${inner.name}) undid ${undone} write(s) that reached it from outside it ` +
                '(another async flow, or the tool used outside its transaction object inside the transaction callback), so work reported done would be lost. ' +
                "Inside a tool's transaction send statements through its transaction object (trx, tx, the transactional entity manager); run other flows' writes outside it or one after another.",
            ),
          )
        }
      },
    }
  }

  /**
   * Whether the calling flow runs beside another flow's open callback-form savepoint: what it does
   * now would be undone by that savepoint's rollback, which is not its own.
   */
  besideSibling(): boolean {
    for (let scope = this.flow().child; scope !== undefined; scope = scope.child) {
      if (scope.owner === 'callback') return true
    }
    return false
  }

  /** Ends `scope` (its savepoint released or rolled back already) and passes the turn on. */
  end(scope: SavepointScope): void {
    this.#end(scope)
  }

  /**
   * Called right before a tool sends a statement that is not transaction control, from `session`
   * (undefined: a pool's own query). Answers undefined when it may be sent at once; a promise when
   * it must first wait for a sibling's savepoint to end, resolving to the function to call once
   * the statement is sent.
   *
   * @throws ConcurrentSavepointError its wait timed out.
   */
  beforeStatement(
    session: object | undefined,
    text: string | undefined,
  ): Promise<() => void> | undefined {
    const flow = this.flow()
    for (let scope = flow.child; scope !== undefined; scope = scope.child) {
      if (scope.owner === session) return undefined
      if (scope.owner === 'callback') {
        // A flow outside a callback-form savepoint is its sibling, for certain: wait for the turn.
        const turn = new SavepointScope(this, flow, 'callback', 'a statement')
        return this.#takeTurn(turn).then(() => () => this.#end(turn))
      }
      if (typeof scope.owner === 'object' && (text === undefined || !READ_ONLY.test(text))) {
        // An ORM's transaction and a statement from elsewhere: inside its callback, or a sibling.
        this.#foreignWrites++
        return undefined
      }
    }
    return undefined
  }

  /** Refuses every waiting sibling: the transaction is ending. */
  close(reason: string): void {
    this.#closed ??= new TransactionStateError(`Cannot set a savepoint: ${reason}.`)
    const refuse = (scope: SavepointScope | undefined): void => {
      for (; scope !== undefined; scope = scope.child) {
        for (const waiter of scope.waiting.splice(0)) {
          clearTimeout(waiter.timer)
          waiter.reject(this.#closed)
        }
      }
    }
    refuse(this.#root)
  }

  #takeTurn(scope: SavepointScope): Promise<void> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed)
    const parent = scope.parent as SavepointScope
    const holder = parent.child
    if (holder === undefined) {
      parent.child = scope
      return Promise.resolve()
    }
    if (scope.owner === 'handle' || holder.owner === 'handle') {
      return Promise.reject(
        new ConcurrentSavepointError(
          'refused',
          `Cannot begin ${scope.what} while ${holder.what} is open: ${scope.owner === 'handle' ? 'a savepoint set with tx.savepoint()' : 'next to a savepoint set with tx.savepoint(), txkit'} cannot tell whether it is meant inside it (the same async flow) or beside it (a sibling flow, whose work its rollback would undo). ` +
            'To nest, set it with outer.savepoint(), or put the work in tx.savepoint(async () => { … }), which knows its flow; concurrent flows use tx.savepoint(work), which waits its turn, or run one after another.',
        ),
      )
    }
    if (this.#waitTimeout === 0) {
      return Promise.reject(
        new ConcurrentSavepointError(
          'refused',
          `Cannot begin ${scope.what} while ${holder.what} of another async flow is open on the same txkit transaction (siblingWaitTimeout: 0 refuses instead of waiting): its rollback would undo this one's work. Run them one after another.`,
        ),
      )
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        scope,
        granted: resolve,
        reject,
        timer: setTimeout(() => {
          const index = parent.waiting.indexOf(waiter)
          if (index !== -1) parent.waiting.splice(index, 1)
          reject(
            new ConcurrentSavepointError(
              'timeout',
              `${capitalised(scope.what)} waited ${this.#waitTimeout} ms for ${parent.child?.what ?? 'a sibling'} to end (the savepoints of one txkit transaction run one at a time, as on one connection) and it did not: ` +
                "most often that transaction waits for this work (a statement sent through the tool's top-level instance, or a second transaction begun, inside its callback instead of through its transaction object). " +
                'Nothing of this work ran. Send it through the transaction object, or raise siblingWaitTimeout when siblings are just slow.',
            ),
          )
        }, this.#waitTimeout),
      }
      parent.waiting.push(waiter)
    })
  }

  #end(scope: SavepointScope): void {
    for (let inner: SavepointScope | undefined = scope; inner !== undefined; inner = inner.child) {
      inner.ended = true
    }
    const parent = scope.parent
    if (parent === undefined || parent.child !== scope) return
    parent.child = undefined
    const next = parent.waiting.shift()
    if (next === undefined) return
    clearTimeout(next.timer)
    parent.child = next.scope
    next.granted()
  }
}

/**
 * Sends a statement once `turn` (what `beforeStatement` answered) allows, and lets the turn go
 * as soon as the statement is on its way: it then runs before any savepoint set after.
 */
export function sendInTurn<Result>(
  turn: Promise<() => void> | undefined,
  send: () => Result,
): Result | Promise<Result> {
  if (turn === undefined) return send()
  return turn.then((done) => {
    try {
      return send()
    } finally {
      done()
    }
  })
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}
