export { type BullmqBrokerOptions, bullmqBroker } from './bullmq-broker.js'
export { bullmqReceivedMessage, type TxkitJobData } from './bullmq-job-data.js'
export { type BullmqWorkerOptions, bullmqWorker } from './bullmq-worker.js'
