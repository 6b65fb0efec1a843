export {
  recordWrites,
  type TxkitDrizzleClientOptions,
  txkitDrizzleClient,
} from './txkit-drizzle-client.js'
