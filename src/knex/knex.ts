export { type TxkitKnexOptions, txkitKnex } from './txkit-knex.js'
