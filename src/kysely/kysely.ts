export { type TxkitDialectOptions, txkitDialect } from './txkit-kysely-dialect.js'
export { txkitRecords } from './txkit-records-plugin.js'
