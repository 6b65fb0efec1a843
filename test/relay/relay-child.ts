/**
 * A relay in a process of its own, for the test that kills one mid-batch: opens the database at
 * argv[2] (`postgres` or `mysql` in argv[3], with the driver under test), runs one pass whose
 * broker never answers, and writes `blocked` once a publish waits. The parent then SIGKILLs it.
 */
import { openMysql, openPostgres } from '../../harness/drivers.js'
import { createRelay } from '../../src/index.js'
import { FakeBroker, outbox } from './relay-support.js'

const [url, kind] = process.argv.slice(2)
const opened =
  kind === 'postgres' ? openPostgres(url ?? '', 'm', 4) : await openMysql(url ?? '', 'm', 4)
const broker = new FakeBroker('child')
broker.gate = new Promise(() => undefined)
broker.onBlocked = () => process.stdout.write('blocked\n')
const relay = createRelay({ databases: [opened.db], outbox, brokers: { fake: broker } })
await relay.runOnce()
process.stdout.write('never\n')
