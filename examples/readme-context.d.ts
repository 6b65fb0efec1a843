// The names the short fragments of the README and docs/*.md take from their surroundings (the
// Quick start above them, or your application), declared so that CI type-checks every fragment
// against the real API. (test/readme.test.ts compiles each ```ts block with these declarations.)

declare const accounts: import('txkit').Database<import('pg').PoolClient>
declare const ledger: import('txkit').Database<import('mysql2/promise').PoolConnection>
declare const coordinator: import('txkit').Coordinator
declare const manager: import('txkit').TransactionManager
declare const tx: import('txkit').ManagedTransaction
declare const ordersDb: import('txkit').Database<import('pg').PoolClient>
declare const id: number
declare const sku: string
declare const account: { readonly id: number; readonly owner: string }
declare const search: { index(record: unknown): void }
declare const log: { warn(fields: object, message: string): void }
declare function sendInvoice(id: number, options: { signal: AbortSignal }): Promise<void>
declare function buildReport(): Promise<void>
declare function pino(): import('txkit').Logger
declare const orderId: string
declare const ordersKysely: import('kysely').Kysely<{
  orders: { id: string; customer: string; total: number }
}>
