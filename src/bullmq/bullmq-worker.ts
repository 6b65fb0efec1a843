import { type ConnectionOptions, Worker, type WorkerOptions } from 'bullmq'
import type { ReceivedMessage } from '../message/received-message.js'
import { checkOptionNames } from '../util/check-option-names.js'
import { bullmqReceivedMessage } from './bullmq-job-data.js'

/** Options of {@link bullmqWorker}. */
export interface BullmqWorkerOptions {
  /** An ioredis client with `maxRetriesPerRequest: null` (BullMQ's rule for workers), or options. */
  readonly connection: ConnectionOptions
  /**
   * Applies one message; the job completes only after this resolves (an inbox's
   * `inbox.handler(work)` is such a function). A rejection fails the attempt: BullMQ retries per
   * the job's `attempts` and `backoff`.
   */
  readonly handle: (message: ReceivedMessage) => Promise<unknown>
  /** More of BullMQ's worker options (concurrency, lockDuration, prefix…). Default concurrency 1, which keeps per-key order. */
  readonly workerOptions?: Omit<WorkerOptions, 'connection'>
}

const OPTION_NAMES = new Set(['connection', 'handle', 'workerOptions'])

/**
 * A BullMQ worker of queue `queue` handing each job the BullMQ broker added to `handle` as a
 * {@link ReceivedMessage}: the job completes only after `handle` resolved, so a worker that dies
 * first leaves it to BullMQ's stalled-job check, which runs it again (same id). A job that is not a
 * txkit message fails. `await worker.close()` stops it.
 *
 * @example
 * ```ts
 * import { bullmqWorker } from 'txkit/bullmq'
 *
 * const worker = bullmqWorker('order-events', { connection, handle: inbox.handler(work) })
 * ```
 */
export function bullmqWorker(queue: string, options: BullmqWorkerOptions): Worker {
  checkOptionNames(options, OPTION_NAMES, 'bullmqWorker()')
  return new Worker(
    queue,
    async (job) => {
      const message = bullmqReceivedMessage(job.data)
      if (message === undefined)
        throw new Error(`Job ${job.id} is not a txkit message (no id in its data)`)
      return options.handle(message)
    },
    { concurrency: 1, ...options.workerOptions, connection: options.connection },
  )
}
