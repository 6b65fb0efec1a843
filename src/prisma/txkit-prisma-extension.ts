import type { RecordKind } from '../manager/record-hooks.js'
import type { TransactionManager } from '../manager/transaction-manager.js'
import { ContextGate } from './context-gate.js'
import { extensionCall } from './prisma-call-scope.js'

/** The part of a `PrismaClient` the extension uses. */
interface ExtendableClient {
  $extends(extension: object): unknown
  /** Prisma's model metadata: the table a model maps to (`@@map`). */
  readonly _runtimeDataModel?: {
    readonly models?: Readonly<Record<string, { readonly dbName?: string | null }>>
  }
  /** Prisma's engine: one per client and the clients extended from it, with one batcher. */
  readonly _engine?: object
  readonly [delegate: string]: unknown
}

/** The gate of each Prisma engine (so of each batcher of `findUnique`s). */
const gates = new WeakMap<object, ContextGate>()

/** Reads Prisma batches by tick (see {@link ContextGate}). */
const BATCHED: ReadonlySet<string> = new Set(['findUnique', 'findUniqueOrThrow'])

interface OperationCall {
  readonly model?: string
  readonly operation: string
  readonly args: Record<string, unknown> | undefined
  query(args: unknown): Promise<unknown>
}

/** Writes whose result is the written row(s). `createMany`, `updateMany` and `deleteMany` answer a count. */
const WRITES: Readonly<Record<string, RecordKind>> = {
  create: 'insert',
  createManyAndReturn: 'insert',
  update: 'update',
  updateManyAndReturn: 'update',
  delete: 'delete',
}

/**
 * The Prisma client extension of txkit, for a client made with {@link txkitPrismaPool}:
 *
 * - it feeds the record hooks of the current txkit transaction (`manager.onRecord(table, …)`)
 *   from the client's writes, with the row as the write returned it: `create` and
 *   `createManyAndReturn` as inserts, `update` and `updateManyAndReturn` as updates, `delete` as a
 *   delete, `upsert` as an insert or an update (it first reads whether the row exists: one query
 *   more). The table is the model's (`@@map` respected). A write inside a Prisma transaction that
 *   rolls back is dropped with it. `createMany`, `updateMany` and `deleteMany` answer a count, not
 *   rows: they feed no hooks (use the `AndReturn` forms, or `tx.recordWrite(…)`). Outside a txkit
 *   transaction it records nothing;
 * - it keeps concurrent transactions' `findUnique`s out of one Prisma batch (Prisma runs a batch on
 *   the connection of its first read's transaction: the others would read that transaction's
 *   uncommitted rows); `txkitPrismaPool` refuses queries inside a transaction without it;
 * - a txkit error raised under a query (a refused `COMMIT`, `explicit: true` outside a
 *   transaction …) is thrown as itself, so `isTransactionControlRefusedError(e)` and the other
 *   guards hold; without the extension Prisma throws a `PrismaClientKnownRequestError` with the
 *   same `code` and message.
 *
 * @example
 * ```ts
 * const prisma = new PrismaClient({ adapter }).$extends(txkitPrismaExtension(manager))
 * manager.onRecord('orders', { afterInsert: (order) => search.index(order) })
 * ```
 */
export function txkitPrismaExtension(
  manager: TransactionManager,
): <Client>(client: Client) => Client {
  return <Client>(client: Client): Client => {
    const base = client as unknown as ExtendableClient
    const engine = base._engine ?? base
    const gate = gates.get(engine) ?? new ContextGate()
    gates.set(engine, gate)
    const contextOf = () => {
      const transaction = manager.current()
      return transaction?.status === 'active' || transaction?.status === 'committing'
        ? transaction
        : undefined
    }
    const tableOf = (model: string): string =>
      base._runtimeDataModel?.models?.[model]?.dbName ?? model
    const existed = async (model: string, where: unknown): Promise<boolean> => {
      const delegate = base[model.charAt(0).toLowerCase() + model.slice(1)] as
        | { findUnique(args: { where: unknown }): Promise<unknown> }
        | undefined
      const row = await gate.start(contextOf(), async () => delegate?.findUnique({ where }))
      return row != null
    }
    const recording = async ({ model, operation, args, query }: OperationCall) => {
      if (BATCHED.has(operation)) return gate.start(contextOf(), () => query(args))
      const transaction = manager.current()
      const kind = WRITES[operation]
      if (
        model === undefined ||
        transaction === undefined ||
        transaction.status !== 'active' ||
        (kind === undefined && operation !== 'upsert')
      ) {
        return query(args)
      }
      const upserted =
        operation === 'upsert' && (await existed(model, args?.where)) ? 'update' : 'insert'
      const result = await query(args)
      for (const row of Array.isArray(result) ? result : [result]) {
        transaction.recordWrite(kind ?? upserted, tableOf(model), row)
      }
      return result
    }
    return base.$extends({
      name: 'txkit',
      query: {
        $allOperations: (call: OperationCall) => extensionCall(() => recording(call)),
      },
    }) as Client
  }
}
