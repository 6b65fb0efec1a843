import {
  type KyselyPlugin,
  type OperationNode,
  type PluginTransformQueryArgs,
  type PluginTransformResultArgs,
  type QueryId,
  type QueryResult,
  ReturningNode,
  type RootOperationNode,
  SelectionNode,
  type TableNode,
  type UnknownRow,
} from 'kysely'
import type { ManagedTransaction } from '../manager/managed-transaction.js'
import type { RecordKind } from '../manager/record-hooks.js'
import type { TransactionManager } from '../manager/transaction-manager.js'

/** A write seen on its way out, to record once its rows come back. */
interface PendingWrite {
  readonly transaction: ManagedTransaction
  readonly kind: RecordKind
  readonly table: string
  /** RETURNING * was added here: the caller asked for no rows and gets none. */
  readonly addedReturning: boolean
}

const KINDS: Readonly<Record<string, RecordKind>> = {
  InsertQueryNode: 'insert',
  UpdateQueryNode: 'update',
  DeleteQueryNode: 'delete',
}

/** The table name of a table or aliased-table node (`schema.table` when it has a schema). */
function tableName(node: OperationNode | undefined): string | undefined {
  if (node === undefined) return undefined
  if (node.kind === 'AliasNode') return tableName((node as { node?: OperationNode }).node)
  if (node.kind !== 'TableNode') return undefined
  const { schema, identifier } = (node as TableNode).table
  return schema === undefined ? identifier.name : `${schema.name}.${identifier.name}`
}

function targetTable(node: RootOperationNode): string | undefined {
  switch (node.kind) {
    case 'InsertQueryNode':
      return tableName(node.into)
    case 'UpdateQueryNode':
      return tableName(node.table)
    case 'DeleteQueryNode':
      return node.from.froms.length === 1 ? tableName(node.from.froms[0]) : undefined
    default:
      return undefined
  }
}

/**
 * Feeds txkit's per-record hooks (`manager.onRecord(table, hooks)`) from Kysely's writes: inside a
 * txkit transaction each INSERT, UPDATE and DELETE on one table gets `RETURNING *` (when you did not
 * ask for rows, Kysely still answers none), and each row it returns is recorded with
 * `tx.recordWrite(kind, table, row)`, a snapshot of the row as written. Records of work undone by a
 * rolled-back Kysely transaction (a savepoint) are dropped. Needs RETURNING: PostgreSQL and SQLite;
 * on MySQL/MariaDB, whose UPDATE returns no rows, record writes with `tx.recordWrite` yourself.
 *
 * @example
 * ```ts
 * const db = new Kysely<OrdersSchema>({
 *   dialect: txkitDialect({ dialect: new PostgresDialect({ pool }), database: orders, manager }),
 *   plugins: [txkitRecords(manager)],
 * })
 * manager.onRecord('orders', { afterInsert: (row) => search.index(row) })
 * ```
 */
export function txkitRecords(manager: TransactionManager): KyselyPlugin {
  const pending = new WeakMap<QueryId, PendingWrite>()
  return {
    transformQuery({ node, queryId }: PluginTransformQueryArgs): RootOperationNode {
      const kind = KINDS[node.kind]
      const transaction = manager.current()
      if (kind === undefined || transaction === undefined || transaction.status !== 'active') {
        return node
      }
      const table = targetTable(node)
      if (table === undefined) return node
      const write = node as RootOperationNode & { readonly returning?: ReturningNode }
      const addedReturning = write.returning === undefined
      pending.set(queryId, { transaction, kind, table, addedReturning })
      return addedReturning
        ? ({
            ...write,
            returning: ReturningNode.create([SelectionNode.createSelectAll()]),
          } as RootOperationNode)
        : node
    },

    async transformResult({
      result,
      queryId,
    }: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
      const write = pending.get(queryId)
      if (write === undefined) return result
      pending.delete(queryId)
      for (const row of result.rows) write.transaction.recordWrite(write.kind, write.table, row)
      return write.addedReturning ? { ...result, rows: [] } : result
    },
  }
}
