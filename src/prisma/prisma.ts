export { txkitPrismaExtension } from './txkit-prisma-extension.js'
export { type TxkitPrismaPoolOptions, txkitPrismaPool } from './txkit-prisma-pool.js'
