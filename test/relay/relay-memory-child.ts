/**
 * A relay in a process of its own over a large outbox: publishes until argv[3] messages went, then
 * stops and prints its peak resident memory, as JSON on stdout.
 */
import { openPostgres } from '../../harness/drivers.js'
import { createRelay } from '../../src/index.js'
import { FakeBroker, outbox } from './relay-support.js'

const [url, expected] = process.argv.slice(2)
const opened = openPostgres(url ?? '', 'm', 4)
const broker = new FakeBroker('memory')
let published = 0
broker.log.push = (...items) => {
  published += items.length
  return published
}
const relay = createRelay({
  databases: [opened.db],
  outbox,
  brokers: { fake: broker },
  batchSize: 500,
  pollInterval: { min: 10, max: 100 },
})
await relay.start()
while (published < Number(expected)) await new Promise((resolve) => setTimeout(resolve, 100))
await relay.stop()
await opened.close()
const peakMb = process.resourceUsage().maxRSS / 1024
process.stdout.write(`${JSON.stringify({ published, peakMb, metrics: relay.metrics })}\n`)
