/**
 * Shared helpers of the broker tests (test/amqplib, test/nats, test/redis, test/bullmq): whether a
 * local broker answers (a missing one skips loudly, and fails under CI=true), random names, a
 * RabbitMQ vhost of the test's own, a proxy that plays a broker going down, private NATS and Redis
 * servers to kill.
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, mkdtempSync, openSync } from 'node:fs'
import { connect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { RelayedMessage } from '../src/index.js'
import { trackDirectory } from './cleanup.js'
import { freePort } from './free-port.js'
import { ServerProcess } from './server-process.js'

const run = promisify(execFile)

/** True when something accepts connections on 127.0.0.1:`port`. */
export function portAnswers(port: number, timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const done = (answer: boolean) => {
      socket.destroy()
      resolve(answer)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => done(true))
    socket.once('error', () => done(false))
  })
}

/**
 * The skip reason of a broker's tests: undefined when `name` answers on `port`; else a warning is
 * printed and the reason returned, or, under CI=true, an error thrown (CI never passes by skipping).
 */
export async function brokerSkip(name: string, port: number): Promise<string | undefined> {
  if (await portAnswers(port)) return undefined
  const reason = `${name} does not answer on 127.0.0.1:${port}: its tests are SKIPPED`
  if (process.env.CI === 'true')
    throw new Error(`${reason} — not allowed under CI=true: start ${name}.`)
  console.warn(`\n*** WARNING: ${reason} ***\n`)
  return reason
}

/** `prefix` with a random suffix: a stream, vhost, queue or key prefix of one test. */
export function randomName(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`
}

/** A RabbitMQ vhost of the test's own, guest having every permission on it. */
export interface TestVhost {
  readonly name: string
  /** The amqp URL of the vhost on `port` (default 5672). */
  url(port?: number): string
  remove(): Promise<void>
}

export async function createVhost(): Promise<TestVhost> {
  const name = randomName('txkit-test')
  await run('rabbitmqctl', ['add_vhost', name])
  await run('rabbitmqctl', ['set_permissions', '-p', name, 'guest', '.*', '.*', '.*'])
  return {
    name,
    url: (port = 5672) => `amqp://guest:guest@127.0.0.1:${port}/${encodeURIComponent(name)}`,
    remove: async () => {
      await run('rabbitmqctl', ['delete_vhost', name])
    },
  }
}

/**
 * A TCP proxy to a local port that can go down (every connection cut, new ones refused at once) and
 * come back: a broker that stopped and restarted, for this test's clients only.
 */
export class SwitchProxy {
  readonly port: number
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  #down = false

  private constructor(server: Server, port: number) {
    this.#server = server
    this.port = port
  }

  static async start(targetPort: number): Promise<SwitchProxy> {
    let proxy: SwitchProxy | undefined
    const server = createServer((client) => {
      if (proxy === undefined || proxy.#down) return void client.destroy()
      const sockets = proxy.#sockets
      const upstream = connect(targetPort, '127.0.0.1')
      for (const socket of [client, upstream]) {
        sockets.add(socket)
        socket.on('close', () => sockets.delete(socket))
        socket.on('error', () => {
          client.destroy()
          upstream.destroy()
        })
      }
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address !== 'object') throw new Error('proxy did not bind')
    proxy = new SwitchProxy(server, address.port)
    return proxy
  }

  /** Cuts every connection and refuses new ones. */
  down(): void {
    this.#down = true
    for (const socket of this.#sockets) socket.destroy()
  }

  up(): void {
    this.#down = false
  }

  async stop(): Promise<void> {
    this.down()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

/** A broker server process of the test's own, on a free port, to kill and restart. */
export interface PrivateServer {
  readonly port: number
  kill(): Promise<void>
  restart(): Promise<void>
  stop(): Promise<void>
}

async function privateServer(
  description: string,
  command: (port: number, directory: string) => string[],
): Promise<PrivateServer> {
  const port = await freePort()
  const directory = mkdtempSync(join(tmpdir(), 'txkit-broker-'))
  trackDirectory(directory)
  mkdirSync(join(directory, 'data'))
  const logFile = join(directory, 'server.log')
  const log = openSync(logFile, 'a')
  const server = new ServerProcess({
    description: `${description} on port ${port}`,
    directory,
    command: command(port, join(directory, 'data')),
    spawn: { stdio: ['ignore', log, log], cwd: directory },
    logFile,
    stopSignal: 'SIGTERM',
    startTimeoutMs: 30_000,
    ready: () => portAnswers(port),
  })
  await server.launch()
  return {
    port,
    kill: () => server.kill(),
    restart: () => server.restart(),
    stop: () => server.stop(),
  }
}

/** `nats-server -js` on a free port, storing its streams in a directory of its own. */
export function startNatsServer(): Promise<PrivateServer> {
  return privateServer('nats-server', (port, data) => [
    'nats-server',
    '-js',
    '-a',
    '127.0.0.1',
    '-p',
    String(port),
    '-sd',
    data,
  ])
}

/** `redis-server` on a free port, without persistence. */
export function startRedisServer(): Promise<PrivateServer> {
  return privateServer('redis-server', (port, data) => [
    'redis-server',
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    data,
  ])
}

/** A message as the relay hands it to a broker: JSON `{ id }` to `address`, no key. */
export function relayedMessage(
  id: string,
  address: string,
  fields: Partial<RelayedMessage> = {},
): RelayedMessage {
  return {
    id,
    destination: 'order-events',
    key: null,
    headers: {},
    body: Buffer.from(JSON.stringify({ id })),
    contentType: 'application/json',
    address,
    attempts: 0,
    ...fields,
  }
}
