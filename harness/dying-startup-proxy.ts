import { createServer, type Server, type Socket } from 'node:net'
import { upstreamOf } from './cutting-proxy.js'

/**
 * A TCP proxy in front of PostgreSQL that lets a session start, then sends, in the very write that
 * carries the startup's ReadyForQuery, the FATAL a backend sends when its postmaster died, and
 * closes: what a client sees when the server dies as it connects. Each connection once.
 */
export class DyingStartupProxy {
  readonly port: number
  readonly #server: Server
  readonly #sockets: Set<Socket>

  private constructor(server: Server, port: number, sockets: Set<Socket>) {
    this.#server = server
    this.port = port
    this.#sockets = sockets
  }

  static async start(targetPort: number): Promise<DyingStartupProxy> {
    const sockets = new Set<Socket>()
    const server = createServer((client) => {
      const upstream = upstreamOf(client, targetPort, sockets)
      client.on('data', (chunk) => upstream.write(chunk))
      let pending = Buffer.alloc(0)
      upstream.on('data', (chunk: Buffer) => {
        pending = Buffer.concat([pending, chunk])
        // Messages after the startup packet: a type byte and a length that counts itself.
        let offset = 0
        while (pending.length - offset >= 5) {
          const length = pending.readInt32BE(offset + 1)
          if (pending.length - offset < 1 + length) break
          const type = String.fromCharCode(pending[offset] as number)
          offset += 1 + length
          if (type === 'Z') {
            client.end(Buffer.concat([pending.subarray(0, offset), postmasterExit()]))
            upstream.destroy()
            return
          }
        }
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('no port')
    return new DyingStartupProxy(server, address.port, sockets)
  }

  async stop(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}

/** The ErrorResponse of a backend whose postmaster died. */
function postmasterExit(): Buffer {
  const fields = [
    ['S', 'FATAL'],
    ['V', 'FATAL'],
    ['C', '57P01'],
    ['M', 'terminating connection due to unexpected postmaster exit'],
  ]
  const body = Buffer.concat([
    ...fields.map(([code, value]) => Buffer.from(`${code}${value}\0`, 'utf8')),
    Buffer.from([0]),
  ])
  const header = Buffer.alloc(5)
  header.write('E', 0, 'latin1')
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}
